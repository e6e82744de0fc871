package callmgr

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
)

// Call forwarding: incoming calls are sent elsewhere with 302 Moved Temporarily and the target
// in Contact (RFC 3261 §21.3.3, §8.1.3.4): always, when the phone would answer busy (a call
// under way without call waiting, every line taken, or do not disturb), or after ringing for a
// while unanswered. The caller's phone (or the registrar) calls the target itself.

// maxForwardAfter bounds the ringing time before a no-answer forward.
const maxForwardAfter = 10 * time.Minute

// checkForward validates f and returns it with its target resolved to a SIP URI (favorite
// names are resolved). The target may not be this phone itself: that would loop.
func (m *Manager) checkForward(f phone.Forward) (phone.Forward, error) {
	switch f.Mode {
	case phone.ForwardOff, "":
		return phone.Forward{Mode: phone.ForwardOff}, nil
	case phone.ForwardAlways, phone.ForwardBusy:
		f.After = 0
	case phone.ForwardNoAnswer:
		if f.After < 1 || f.After > phone.Seconds(maxForwardAfter.Seconds()) {
			return f, fmt.Errorf("forward noanswer: %v is not a number of seconds from 1 to %d", f.After, int(maxForwardAfter.Seconds()))
		}
	default:
		return f, fmt.Errorf("unknown forwarding mode %q (want off, always, busy or noanswer)", f.Mode)
	}
	uri, echo, err := resolveTarget(f.Target, m.cfg.Favorites)
	if err != nil {
		return f, fmt.Errorf("forward to %q: %w", f.Target, err)
	}
	if echo {
		return f, fmt.Errorf("calls cannot be forwarded to the echo test")
	}
	if m.isOurAddress(uri) {
		return f, fmt.Errorf("forward to %s: that is this phone; calls would come straight back", uri.String())
	}
	f.Target = uri.String()
	return f, nil
}

// isOurAddress reports whether uri is this phone's own direct-call address.
func (m *Manager) isOurAddress(uri sip.Uri) bool {
	var own sip.Uri
	if err := sip.ParseUri(m.ua.AOR(), &own); err != nil {
		return false
	}
	return strings.EqualFold(uri.User, own.User) && strings.EqualFold(uri.Host, own.Host) && uri.Port == own.Port
}

// SetForward changes call forwarding (see phone.Forward) for the calls that come from now on.
func (m *Manager) SetForward(ctx context.Context, f phone.Forward) (phone.Forward, error) {
	var got phone.Forward
	err := m.do(ctx, func() error {
		nf, err := m.checkForward(f)
		if err != nil {
			return err
		}
		m.fwd = nf
		got = nf
		m.log.Info("call forwarding changed", "forward", nf.String())
		m.publishStatus() // Status() says so as soon as SetForward returns
		st := m.buildStatus()
		m.hub.publish(phone.Event{Type: phone.EventStatus, Time: m.clk.Now(), Status: &st})
		return nil
	})
	return got, err
}

// redirect answers req with 302 Moved Temporarily to the forwarding target and files the call
// in the history as forwarded. why says when ("always", "busy").
func (m *Manager) redirect(req *sip.Request, tx sip.ServerTransaction, why string) chan struct{} {
	res := sip.NewResponseFromRequest(req, 302, "Moved Temporarily", nil)
	res.AppendHeader(sip.NewHeader("Server", "trayphone"))
	res.AppendHeader(m.forwardContact())
	_ = tx.Respond(res)
	m.log.Info("incoming call forwarded", "from", req.From().Address.String(), "to", m.fwd.Target, "when", why)
	m.missed(req, "forwarded to "+m.fwd.Target, phone.ResultForwarded)
	return nil
}

// forwardContact is the Contact header of a 302: the forwarding target.
func (m *Manager) forwardContact() sip.Header {
	var uri sip.Uri
	if err := sip.ParseUri(m.fwd.Target, &uri); err != nil {
		// checkForward parsed it: this cannot happen.
		return sip.NewHeader("Contact", "<"+m.fwd.Target+">")
	}
	return &sip.ContactHeader{Address: uri}
}

// forwardNoAnswer arms the no-answer forward of ringing call c.
func (m *Manager) forwardNoAnswer(c *call) {
	if m.fwd.Mode != phone.ForwardNoAnswer {
		return
	}
	after := time.Duration(float64(m.fwd.After) * float64(time.Second))
	m.after(c, after, c.inviteDone, func(c *call) {
		if c.state != phone.CallIncoming || m.fwd.Mode != phone.ForwardNoAnswer {
			return
		}
		target := m.fwd.Target
		dlg, done := c.sdlg, c.inviteDone
		contact := m.forwardContact()
		go func() {
			// Ends when the ACK for the 302 arrives or the transaction times out.
			_ = dlg.Respond(302, "Moved Temporarily", nil, contact)
			close(done)
		}()
		m.log.Info("incoming call forwarded: not answered", "call", c.id, "to", target, "after", after)
		c.result = phone.ResultForwarded
		m.endCall(c, fmt.Sprintf("forwarded to %s after ringing %s", target, after))
	})
}

// ForwardArgs are the arguments of the "forward" control command; a nil Set only asks.
type ForwardArgs struct {
	Set *phone.Forward `json:"set,omitempty"`
}

// ForwardCommand is the control handler of "forward": the forwarding in force (after the change).
func ForwardCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a ForwardArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("forward: unreadable arguments: %v", err)
			}
		}
		if a.Set == nil {
			f := m.Status().Forward
			if f == nil {
				return phone.Forward{Mode: phone.ForwardOff}, nil
			}
			return *f, nil
		}
		return m.SetForward(ctx, *a.Set)
	}
}
