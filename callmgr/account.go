package callmgr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// Accounts is what the call manager needs from the SIP accounts (*account.Set has it).
type Accounts interface {
	// Snapshots returns every account's state, in config order.
	Snapshots() []phone.AccountInfo
	// Outbound says how a call leaves through account id ("" = the default account); nil and no
	// error when there is no account.
	Outbound(id string) (*sipua.Outbound, error)
	// AccountFor returns the account whose domain is uri's host ("" if none), so that a call to
	// sip:bob@work.example goes through the work account.
	AccountFor(uri sip.Uri) string
	// Admit reports whether an incoming INVITE came through one of our registrars (its source or
	// its Request-URI's registration token) and for which account.
	Admit(req *sip.Request) (id string, ok bool)
}

// AccountChanged publishes an account's new state as an EventAccount and refreshes Status. It is
// safe from any goroutine and never blocks.
func (m *Manager) AccountChanged(info phone.AccountInfo) {
	m.post(func() {
		if mc, ok := m.pres.mwi[info.ID]; ok {
			info.Voicemail = &mc
		}
		m.hub.publish(phone.Event{Type: phone.EventAccount, Time: m.clk.Now(), Account: &info})
	})
}

// accountSnapshots returns the accounts for Status.
func (m *Manager) accountSnapshots() []phone.AccountInfo {
	if m.cfg.Accounts == nil {
		return []phone.AccountInfo{}
	}
	return m.cfg.Accounts.Snapshots()
}

// outboundFor picks the account a call to uri (when resolved) leaves through: the one asked for,
// else the one whose domain the URI names, else the default account. It returns nil for direct calls (no account configured, or the echo test).
func (m *Manager) outboundFor(account string, echo bool, uri sip.Uri, resolved bool) (*sipua.Outbound, error) {
	if echo {
		return nil, nil
	}
	if m.cfg.Accounts == nil {
		if account != "" {
			return nil, fmt.Errorf("no account %q is configured", account)
		}
		return nil, nil
	}
	if account == "" && resolved {
		account = m.cfg.Accounts.AccountFor(uri)
	}
	return m.cfg.Accounts.Outbound(account)
}

// targetVia resolves what the user typed when calling through an account: bare names and numbers
// go to the account's domain (bob → sip:bob@example.org), tel: numbers become
// sip:NUMBER@domain;user=phone (RFC 3261 §19.1.6). Other targets resolve as for direct calls.
func targetVia(target string, favorites map[string]string, domain string) (sip.Uri, error) {
	uri, _, err := resolveTarget(target, favorites)
	if err == nil || !errors.Is(err, errNeedsAccount) {
		return uri, err
	}
	t := strings.TrimSpace(target)
	for depth := 0; depth < 4; depth++ {
		fav, ok := favorites[t]
		if !ok {
			break
		}
		t = strings.TrimSpace(fav)
	}
	s := "sip:" + t + "@" + domain
	if num, ok := strings.CutPrefix(strings.ToLower(t), "tel:"); ok {
		num = strings.Map(func(r rune) rune {
			if strings.ContainsRune("-.() ", r) {
				return -1
			}
			return r
		}, t[len(t)-len(num):])
		if i := strings.IndexByte(num, ';'); i >= 0 {
			num = num[:i]
		}
		s = "sip:" + num + "@" + domain + ";user=phone"
	}
	var u sip.Uri
	if strings.ContainsAny(t, " \t<>\"") {
		return u, fmt.Errorf("cannot call %q: not a name or number", target)
	}
	if err := sip.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("cannot call %q: %v", target, err)
	}
	return u, nil
}

// admit applies ghost-call protection to a new INVITE: with accounts, only INVITEs that came
// through a registrar are accepted (unless direct calls are allowed). It returns the account the
// call came through ("" for a direct call).
func (m *Manager) admit(req *sip.Request) (string, bool) {
	if m.cfg.Accounts != nil {
		if id, ok := m.cfg.Accounts.Admit(req); ok {
			return id, true
		}
	}
	return "", !m.cfg.RejectDirectCalls
}

// dialogUAFor is the dialog user agent for a call that came through account acct: its answers
// carry the account's Contact (the flow the registrar reaches us on, e.g. our TLS connection),
// not the listener's.
func (m *Manager) dialogUAFor(acct string) *sipgo.DialogUA {
	if acct == "" || m.cfg.Accounts == nil {
		return m.dlgUA
	}
	ob, err := m.cfg.Accounts.Outbound(acct)
	if err != nil || ob == nil {
		return m.dlgUA
	}
	return &sipgo.DialogUA{Client: m.ua.Client, ContactHDR: sip.ContactHeader{Address: ob.Contact}}
}
