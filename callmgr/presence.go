package callmgr

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/presence"
)

// Presence is what the call manager needs from the event subscriptions (*presence.Set has it).
type Presence interface {
	// Notify matches a NOTIFY to a subscription (or admits an unsolicited message-summary from an
	// account's registrar) and parses its body; its error is a *presence.NotifyError. It never
	// blocks on the network.
	Notify(req *sip.Request) (presence.Update, error)
}

// presenceState is what NOTIFYs said, owned by the Run goroutine.
type presenceState struct {
	mwi       map[string]phone.MessageCount // by account ID
	favorites []phone.FavoriteState         // the watched favorites, in Config.Watched order
}

// handleNotify answers a NOTIFY (RFC 6665 §4.1.3) on sipgo's goroutine: matching and parsing
// are done here, off the manager's loop; the result is posted to it. A NOTIFY the phone did not
// ask for, or with a body it cannot read, is refused with a status and a reason and logged
// (rate-limited); the phone goes on.
func (m *Manager) handleNotify(req *sip.Request, tx sip.ServerTransaction) {
	if eventPackage(req) == "refer" {
		m.handleReferNotify(req, tx) // transfer.go: a REFER's progress
		return
	}
	if m.cfg.Presence == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Subscription Does Not Exist", nil))
		return
	}
	u, err := m.cfg.Presence.Notify(req)
	if presence.IsEmpty(err) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		return
	}
	if err != nil {
		code, reason := 400, "Bad Request"
		var ne *presence.NotifyError
		if errors.As(err, &ne) {
			code, reason = ne.Code, ne.Reason
		}
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.AppendHeader(sip.NewHeader("Warning", `399 trayphone "`+warnText(err.Error())+`"`))
		_ = tx.Respond(res)
		src := req.Source()
		m.post(func() {
			m.logRejected("NOTIFY refused: "+reason, "status", strconv.Itoa(code), "source", src, "error", err.Error())
		})
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	m.post(func() { m.applyPresence(u) })
}

// warnText makes s safe inside a quoted Warning header text.
func warnText(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\'')
		case r < 0x20 || r == 0x7f:
			out = append(out, ' ')
		default:
			out = append(out, r)
		}
		if len(out) >= 200 {
			break
		}
	}
	return string(out)
}

// applyPresence stores an accepted NOTIFY's news and publishes it. Run goroutine only.
func (m *Manager) applyPresence(u presence.Update) {
	now := m.clk.Now()
	switch u.Kind {
	case presence.KindMWI:
		if m.pres.mwi == nil {
			m.pres.mwi = map[string]phone.MessageCount{}
		}
		mc := phone.MessageCount{New: u.Summary.Voice.New, Old: u.Summary.Voice.Old, Waiting: u.Summary.Waiting}
		if old, ok := m.pres.mwi[u.Account]; ok && old == mc {
			return
		}
		m.pres.mwi[u.Account] = mc
		for _, a := range m.withVoicemail(m.accountSnapshots()) {
			if a.ID == u.Account {
				m.log.Info("voicemail", "account", a.ID, "new", mc.New, "old", mc.Old)
				m.hub.publish(phone.Event{Type: phone.EventMWI, Time: now, Account: &a})
			}
		}
	case presence.KindBLF:
		for i := range m.pres.favorites {
			f := &m.pres.favorites[i]
			if f.Name != u.Name || f.Account != u.Account {
				continue
			}
			if f.State == u.Line.String() {
				return
			}
			f.State = u.Line.String()
			fs := *f
			m.hub.publish(phone.Event{Type: phone.EventFavorite, Time: now, Favorite: &fs})
		}
	}
}

// withVoicemail adds what the voicemail servers said to the account snapshots.
func (m *Manager) withVoicemail(accts []phone.AccountInfo) []phone.AccountInfo {
	for i := range accts {
		if mc, ok := m.pres.mwi[accts[i].ID]; ok {
			accts[i].Voicemail = &mc
		}
	}
	return accts
}

// eventPackage returns the package of req's Event header (RFC 6665; "o" is its compact form),
// lower case, "" when there is none.
func eventPackage(req *sip.Request) string {
	ev := req.GetHeader("Event")
	if ev == nil {
		ev = req.GetHeader("o")
	}
	if ev == nil {
		return ""
	}
	pkg, _, _ := strings.Cut(ev.Value(), ";")
	return strings.ToLower(strings.TrimSpace(pkg))
}
