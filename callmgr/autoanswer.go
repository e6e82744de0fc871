package callmgr

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
)

// Auto-answer: calls of the listed accounts, or from the listed callers, are answered after
// AutoAnswer.After seconds of ringing; an intercom request in the INVITE (intercomRequest) is
// honoured only from the callers in AutoAnswer.Intercom, with the delay it asks for. A call is
// never answered automatically while another call is answered (the microphone would open on
// a second call), and the user is told each time the line opened by itself.

// AutoAnswer is Config.AutoAnswer ([autoanswer]).
type AutoAnswer struct {
	// Accounts are the account IDs whose calls are answered automatically.
	Accounts []string
	// Callers are the callers whose calls are answered automatically: SIP addresses (user@host,
	// scheme optional) or phone numbers (the last 8 digits must match).
	Callers []string
	// After is how long such a call rings first.
	After time.Duration
	// Intercom are the callers whose intercom requests are honoured (same forms as Callers).
	Intercom []string
}

// autoAnswerDelay decides whether incoming call c, from INVITE req, is answered automatically
// and after how long.
func (m *Manager) autoAnswerDelay(c *call, req *sip.Request) (time.Duration, string, bool) {
	aa := m.cfg.AutoAnswer
	values := func(name string) []string {
		var out []string
		for _, h := range req.GetHeaders(name) {
			out = append(out, h.Value())
		}
		return out
	}
	// The caller's address is what the From header says: through an account it is what the
	// registrar let through; on a direct call anyone could write it, so there it must be the IP
	// address the INVITE came from.
	trusted := c.account != "" || fromIsSource(c)
	if d, ok := intercomRequest(values("Call-Info"), values("Alert-Info"), values("Answer-Mode")); ok {
		if trusted && callerListed(c.remote, aa.Intercom) {
			return d, "intercom", true
		}
		m.log.Info("intercom request ignored: the caller is not allowed to open the line ([autoanswer] intercom)", "call", c.id, "from", c.remote)
	}
	for _, a := range aa.Accounts {
		if c.account != "" && a == c.account {
			return aa.After, "account " + a, true
		}
	}
	if trusted && callerListed(c.remote, aa.Callers) {
		return aa.After, "caller", true
	}
	return 0, "", false
}

// armAutoAnswer schedules the automatic answer of ringing call c, if it gets one.
func (m *Manager) armAutoAnswer(c *call, req *sip.Request) {
	d, why, ok := m.autoAnswerDelay(c, req)
	if !ok {
		return
	}
	m.log.Info("call will be answered automatically", "call", c.id, "from", c.remote, "after", d, "why", why)
	m.after(c, d, c.inviteDone, func(c *call) {
		if c.state != phone.CallIncoming || c.answering {
			return
		}
		for _, o := range m.liveCalls() {
			if o != c && !o.hidden && o.answered() {
				m.log.Info("not answering automatically: another call is answered", "call", c.id, "other", o.id)
				return
			}
		}
		c.autoAnswered = true
		m.answer(c, func() { c.autoAnswered = false }, func(err error) {
			if err != nil {
				return // answer ended the call and said why
			}
			name := c.remoteNm
			if name == "" {
				name = c.remote
			}
			m.warn(c, fmt.Sprintf("call %s from %s was answered automatically (%s): the line is open; mute with trayphone mute %s", c.id, name, why, c.id))
		})
	})
}

// fromIsSource reports whether the host of direct call c's From address is the IP address its
// INVITE came from.
func fromIsSource(c *call) bool {
	var u sip.Uri
	if err := sip.ParseUri(c.remote, &u); err != nil {
		return false
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	return err == nil && c.source.IsValid() && ip.Unmap() == c.source.Unmap()
}

// callerListed reports whether remote (a SIP URI) is one of list: a SIP address compared as
// user@host without scheme, port or parameters, case-insensitively, or a phone number whose last 8
// digits match the remote's user part.
func callerListed(remote string, list []string) bool {
	if len(list) == 0 {
		return false
	}
	addr := func(s string) string {
		s = strings.TrimSpace(s)
		for _, p := range []string{"sips:", "sip:", "tel:"} {
			if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
				s = s[len(p):]
			}
		}
		if i := strings.IndexAny(s, ";?>"); i >= 0 {
			s = s[:i]
		}
		s = strings.ToLower(strings.TrimPrefix(s, "<"))
		// The port is not part of who calls: user@host is.
		if at := strings.LastIndexByte(s, '@'); at >= 0 {
			host := s[at+1:]
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			s = s[:at+1] + strings.Trim(host, "[]")
		}
		return s
	}
	digits := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		d := b.String()
		return d[max(0, len(d)-8):]
	}
	ra := addr(remote)
	user, _, _ := strings.Cut(ra, "@")
	for _, l := range list {
		la := addr(l)
		if la == "" {
			continue
		}
		if strings.Contains(la, "@") {
			if la == ra {
				return true
			}
			continue
		}
		if d := digits(la); len(d) >= 3 && d == digits(user) && strings.Trim(user, "+0123456789-. ()") == "" {
			return true
		}
	}
	return false
}
