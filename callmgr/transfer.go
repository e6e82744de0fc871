package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/refer"
	"trayphone/internal/sipua"
)

// Call transfer, both ways (issue 15 item 2):
//
//   - The user transfers call X (transferor): a REFER in X's dialog (RFC 3515) whose Refer-To is
//     the target (blind), or the far end of a consultation call Y with Y's dialog escaped into it
//     as Replaces (attended, RFC 3891 §3, RFC 5589 §7). The NOTIFYs that follow carry the
//     target's answers as message/sipfrag; when one says 2xx, X is hung up.
//   - The far end transfers us (transferee): an in-dialog REFER on an answered call is accepted
//     (202), X is held, the Refer-To target is called (with its Replaces, if any), and its progress
//     goes back in NOTIFYs unless the REFER said Refer-Sub: false (RFC 4488). When the target
//     answers, X ends; when it fails, X is taken off hold again.
//   - An INVITE with Replaces naming one of our answered calls (onNewInvite) is answered at once,
//     without ringing, and the call it names ends.

// Transfer roles (phone.TransferInfo.Role).
const (
	roleTransferor = "transferor"
	roleTransferee = "transferee"
)

// referExpires is the implicit subscription's lifetime we state in the NOTIFYs we send
// (RFC 3515 §2.4.4 leaves it to the notifier).
const referExpires = 60

// transfer is where a transfer of one call stands.
type transfer struct {
	info phone.TransferInfo
	// final is set once the outcome is known: no more progress is taken.
	final bool
	// consult is the consultation call of an attended transfer we started; pendingRefer is our
	// REFER's Refer-To while it waits for the hold's re-INVITE to end.
	consult      *call
	pendingRefer string
	// Transferee: the call placed to the target, and the NOTIFYs to send on the transferred
	// call's dialog, in order (nil without a subscription; closed after the last one, or when
	// the transferred call ends).
	newCall *call
	notes   chan referNote
	// byeAfter: the transferred call ends a second after the final NOTIFY went out.
	byeAfter bool
}

// referNote is one NOTIFY of a REFER's implicit subscription.
type referNote struct {
	frag       []byte
	terminated bool
}

// TransferScreen decides whether a transfer to target (a SIP URI) may be placed: nil allows it,
// an error refuses the REFER with 603 Decline and says why. Config.TransferScreen is where the
// user's call screening plugs in.
type TransferScreen func(target string) error

// Transfer transfers the answered call id: to target (a favorite, number or URI, resolved as
// Call resolves it) when consult is "", else to the far end of call consult, which it replaces
// (attended). The call is held while the transfer runs; it is hung up when the target answers.
func (m *Manager) Transfer(ctx context.Context, id, target, consult string) (phone.CallInfo, error) {
	var info phone.CallInfo
	err := m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.answered() }, "answered")
		if err != nil {
			return err
		}
		if x := c.xfer; x != nil && !x.final {
			if x.info.Role == roleTransferee {
				return fmt.Errorf("call %s is being transferred by the far end to %s (%s)", c.id, x.info.Target, x.info.State)
			}
			return fmt.Errorf("call %s is being transferred already (%s)", c.id, x.info.State)
		}
		if c.dialog() == nil {
			return fmt.Errorf("call %s has no dialog to transfer", c.id)
		}
		x := &transfer{info: phone.TransferInfo{Role: roleTransferor, State: refer.ProgressTrying.String()}}
		var referTo string
		switch {
		case consult != "" && strings.TrimSpace(target) != "":
			return errors.New("give a target or the call to transfer to (--to), not both")
		case consult != "":
			o := m.calls[consult]
			switch {
			case o == nil || o.hidden:
				return fmt.Errorf("no call %s to transfer to", consult)
			case o == c:
				return errors.New("a call cannot be transferred to itself")
			case !o.answered() || o.farTag == "":
				return fmt.Errorf("call %s is %s: transfer to a call once it is answered", o.id, o.state)
			}
			uri := m.consultTarget(o)
			referTo = refer.FormatReferTo(uri, &refer.Replaces{CallID: o.sipCallID, ToTag: o.farTag, FromTag: o.localTag})
			x.consult = o
			x.info.Target, x.info.Attended, x.info.Consult = o.remote, true, o.id
		default:
			uri, err := m.transferTarget(c, target)
			if err != nil {
				return err
			}
			referTo = refer.FormatReferTo(uri.String(), nil)
			x.info.Target = uri.String()
		}
		c.xfer = x
		if !c.localHold {
			c.keepHeld = true // the far end must not hear the user while it waits
			if err := m.setHold(c, true); err != nil {
				m.warn(c, fmt.Sprintf("could not put the call with %s on hold for the transfer: %v", c.remote, err))
			}
		}
		m.log.Info("transferring call", "call", c.id, "to", x.info.Target, "attended", x.info.Attended)
		if c.reinviting {
			// The REFER follows the hold's re-INVITE (RFC 5589 §6): sent at once, it would
			// overtake it, and the far end refuses a request with a lower CSeq than one it
			// has seen (RFC 3261 §12.2.2). reinvite sends it when the re-INVITE is done.
			x.pendingRefer = referTo
		} else {
			m.sendRefer(c, referTo)
		}
		m.changed(c)
		m.publishTransfer(c)
		info = c.snapshot(m.clk.Now())
		return nil
	})
	return info, err
}

// transferTarget resolves what the user typed as a blind transfer's target, the way Call does
// for the account call c went through.
func (m *Manager) transferTarget(c *call, target string) (sip.Uri, error) {
	uri, echo, err := resolveTarget(target, m.cfg.Favorites)
	if c.account != "" && m.cfg.Accounts != nil {
		if ob, oerr := m.cfg.Accounts.Outbound(c.account); oerr == nil && ob != nil {
			uri, err = targetVia(target, m.cfg.Favorites, ob.Domain)
		}
	}
	if err != nil {
		return uri, errors.New(strings.Replace(err.Error(), "cannot call", "cannot transfer to", 1))
	}
	if echo {
		return uri, errors.New("cannot transfer to the echo test: it runs on this phone")
	}
	return uri, nil
}

// consultTarget is where the transferee is sent to reach the far end of consultation call o: its
// address through the account (the proxy routes it, and the Replaces finds the dialog there),
// or, for a direct call, the Contact of its far end.
func (m *Manager) consultTarget(o *call) string {
	if o.account == "" {
		if t := o.remoteTarget(); t.Host != "" {
			return t.String()
		}
	}
	return o.remote
}

// selfURI is who we are in call c, for Referred-By.
func (m *Manager) selfURI(c *call) string {
	if ob := m.outbound(c); ob != nil {
		return ob.From.String()
	}
	u := sip.Uri{Scheme: "sip", User: m.ua.User, Host: c.localIP.String(), Port: m.ua.Port}
	return u.String()
}

// outbound is how call c's account sends requests (nil for a direct call).
func (m *Manager) outbound(c *call) *sipua.Outbound {
	if c.account == "" || m.cfg.Accounts == nil {
		return nil
	}
	ob, err := m.cfg.Accounts.Outbound(c.account)
	if err != nil {
		return nil
	}
	return ob
}

// sendRefer sends the REFER of a transfer of c and posts the answer to onReferAnswered.
func (m *Manager) sendRefer(c *call, referTo string) {
	dlg, target, ob := c.dialog(), c.remoteTarget(), m.credentials(c)
	by := "<" + m.selfURI(c) + ">"
	build := func() *sip.Request {
		req := sip.NewRequest(sip.REFER, target)
		req.AppendHeader(sip.NewHeader("Refer-To", referTo))
		req.AppendHeader(sip.NewHeader("Referred-By", by))
		req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
		return req
	}
	go func() {
		// Ends when the REFER has a final answer (bounded by Timer F) or the phone stops.
		ctx, cancel := context.WithTimeout(m.ctx, 32*time.Second)
		defer cancel()
		res, err := doAuthed(ctx, dlg, build, ob)
		m.post(func() { m.onReferAnswered(c, res, err) })
	}()
}

// onReferAnswered takes the far end's answer to our REFER: 2xx means it is calling the target
// (progress follows in NOTIFYs); anything else ends the transfer, the call still held.
func (m *Manager) onReferAnswered(c *call, res *sip.Response, err error) {
	x := c.xfer
	if x == nil || x.final || x.info.Role != roleTransferor || c.state == phone.CallEnded {
		return
	}
	switch {
	case err != nil:
		m.transferOutcome(c, refer.ProgressFailed, 0, err.Error())
	case !res.IsSuccess():
		m.transferOutcome(c, refer.ProgressFailed, res.StatusCode, res.Reason)
	default:
		m.log.Info("transfer accepted by the far end", "call", c.id, "status", res.StatusCode)
	}
}

// transferOutcome records progress p of the transfer the user started on c. Success hangs c up
// (the far end now talks to the target); failure leaves c on hold and says so.
func (m *Manager) transferOutcome(c *call, p refer.Progress, code int, reason string) {
	x := c.xfer
	if x == nil || x.final || p == refer.ProgressUnknown {
		return
	}
	x.info.State, x.info.Status, x.info.Reason = p.String(), code, reason
	switch p {
	case refer.ProgressSucceeded:
		x.final = true
		m.log.Info("transfer succeeded", "call", c.id, "to", x.info.Target)
		if o := x.consult; o != nil && o.state != phone.CallEnded && o.endReason == "" {
			o.endReason = "transferred: " + c.remote + " now talks to " + o.remote
		}
		m.publishTransfer(c)
		m.hangup(c, "transferred to "+x.info.Target, nil)
		return
	case refer.ProgressFailed:
		x.final = true
		what := reason
		if code != 0 {
			what = fmt.Sprintf("%d %s", code, reason)
		}
		m.warn(c, fmt.Sprintf("the transfer of the call with %s to %s failed (%s); the call stays on hold: resume it with trayphone resume %s",
			c.remote, x.info.Target, what, c.id))
	}
	m.changed(c)
	m.publishTransfer(c)
}

// publishTransfer publishes c's transfer state as an EventTransfer.
func (m *Manager) publishTransfer(c *call) {
	if c.hidden || c.xfer == nil {
		return
	}
	snap := c.snapshot(m.clk.Now())
	m.hub.publish(phone.Event{Type: phone.EventTransfer, Time: m.clk.Now(), Call: &snap})
}

// handleNotify takes the NOTIFYs of a REFER's implicit subscription (RFC 3515 §2.4.4): in the
// dialog of a call we are transferring, Event refer, a message/sipfrag body. Other event packages
// are not subscribed to here (489).
func (m *Manager) handleNotify(req *sip.Request, tx sip.ServerTransaction) {
	ev := req.GetHeader("Event")
	if ev == nil {
		ev = req.GetHeader("o")
	}
	pkg := ""
	if ev != nil {
		pkg, _, _ = strings.Cut(ev.Value(), ";")
		pkg = strings.ToLower(strings.TrimSpace(pkg))
	}
	if pkg != "refer" {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 489, "Bad Event", nil))
		return
	}
	m.await(func() {
		c := m.dialogOf(req)
		if c == nil || c.xfer == nil || c.xfer.info.Role != roleTransferor {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Subscription Does Not Exist", nil))
			return
		}
		frag, err := refer.ParseSipfrag(req.Body())
		if err != nil {
			m.log.Warn("transfer progress with a broken body refused", "call", c.id, "error", err)
			_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p := refer.ProgressOf(frag.Code)
		m.log.Info("transfer progress", "call", c.id, "status", frag.Code, "state", p)
		if !c.xfer.final && p != refer.ProgressSucceeded && p != refer.ProgressFailed {
			c.xfer.info.State, c.xfer.info.Status, c.xfer.info.Reason = p.String(), frag.Code, frag.Reason
			m.changed(c)
			m.publishTransfer(c)
			return
		}
		m.transferOutcome(c, p, frag.Code, frag.Reason)
	})
}

// handleRefer takes a REFER: the far end of one of our answered calls transfers us.
func (m *Manager) handleRefer(req *sip.Request, tx sip.ServerTransaction) {
	m.await(func() { m.onRefer(req, tx) })
}

// onRefer accepts or refuses a REFER, on the manager goroutine. Refused, with a log line that says
// why: a REFER outside a dialog (403) or in none of ours (481), on a call not answered (403),
// without exactly one well-formed Refer-To (400), to an address that is not SIP or that the
// user's screening forbids (403, 603), or while the call is being transferred already (491).
func (m *Manager) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	refuse := func(code int, reason, why string, args ...any) {
		m.logRejected("REFER refused: "+why, append(args, "status", code, "from", req.Source())...)
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	}
	if m.stopping {
		refuse(503, "Service Unavailable", "the phone is shutting down")
		return
	}
	if to := req.To(); to == nil || !to.Params.Has("tag") || req.CallID() == nil || req.From() == nil {
		refuse(403, "Forbidden", "it is not part of a call (out-of-dialog REFERs are not accepted)")
		return
	}
	c := m.dialogOf(req)
	if c == nil {
		refuse(481, "Call/Transaction Does Not Exist", "it names no call of ours")
		return
	}
	if !c.answered() {
		refuse(403, "Forbidden", "the call is not answered", "call", c.id)
		return
	}
	if c.sdlg != nil {
		if err := c.sdlg.ReadRequest(req, tx); err != nil {
			refuse(500, "Server Internal Error", "out of order", "call", c.id)
			return
		}
	}
	hs := append(req.GetHeaders("Refer-To"), req.GetHeaders("r")...)
	if len(hs) != 1 {
		refuse(400, "Bad Request", fmt.Sprintf("it has %d Refer-To headers, not one", len(hs)), "call", c.id)
		return
	}
	rt, err := refer.ParseReferTo(hs[0].Value())
	if err != nil {
		refuse(400, "Bad Request", "malformed Refer-To", "call", c.id, "error", err)
		return
	}
	if code, err := m.referAllowed(c, rt); err != nil {
		reason, why := "Forbidden", "the target is not allowed"
		if code == 603 {
			reason, why = "Decline", "the user's screening blocks the target"
		}
		refuse(code, reason, why, "call", c.id, "target", rt.URI, "error", err)
		return
	}
	if x := c.xfer; x != nil && !x.final {
		refuse(491, "Request Pending", "a transfer of this call is under way", "call", c.id)
		return
	}
	var extra []sip.Header
	if by := req.GetHeader("Referred-By"); by != nil {
		extra = append(extra, sip.NewHeader("Referred-By", by.Value()))
	} else if by := req.GetHeader("b"); by != nil {
		extra = append(extra, sip.NewHeader("Referred-By", by.Value()))
	}
	if rt.Replaces != nil {
		extra = append(extra, sip.NewHeader("Replaces", rt.Replaces.String()), sip.NewHeader("Require", "replaces"))
	}
	sub := true
	if h := req.GetHeader("Refer-Sub"); h != nil {
		sub = refer.WantsSubscription(h.Value())
	}
	nc, err := m.startOutgoing(rt.URI, c.account, extra...)
	if err != nil {
		refuse(603, "Decline", "the target cannot be called", "call", c.id, "target", rt.URI, "error", err)
		return
	}
	res := sip.NewResponseFromRequest(req, 202, "Accepted", nil)
	if !sub {
		res.AppendHeader(sip.NewHeader("Refer-Sub", "false"))
	}
	_ = tx.Respond(res)
	x := &transfer{newCall: nc, info: phone.TransferInfo{Role: roleTransferee, Target: rt.URI, Attended: rt.Replaces != nil,
		State: refer.ProgressTrying.String(), NewCall: nc.id}}
	c.xfer = x
	nc.referOf = c
	m.log.Info("the far end transfers the call: calling the target", "call", c.id, "target", rt.URI, "new_call", nc.id,
		"attended", rt.Replaces != nil, "subscription", sub)
	if sub {
		x.notes = make(chan referNote, 4)
		m.notifier(c, x.notes, "refer;id="+strconv.FormatUint(uint64(req.CSeq().SeqNo), 10))
		m.queueNote(c, 100, "Trying", false)
	}
	m.changed(c)
	m.publishTransfer(c)
}

// referAllowed decides whether the phone may call a REFER's target: SIP addresses only (tel:
// numbers through the call's account), no method but INVITE, and what the user's screening
// (Config.TransferScreen) allows. It returns the status to refuse with and why.
func (m *Manager) referAllowed(c *call, rt refer.ReferTo) (int, error) {
	switch rt.Scheme {
	case "sip", "sips":
		var u sip.Uri
		if err := sip.ParseUri(rt.URI, &u); err != nil || u.Host == "" {
			return 400, fmt.Errorf("not a valid SIP address: %q", rt.URI)
		}
		if meth, ok := u.UriParams.Get("method"); ok && !strings.EqualFold(meth, "INVITE") {
			return 403, fmt.Errorf("it asks for a %s, not a call", meth)
		}
	case "tel":
		if c.account == "" {
			return 403, errors.New("a telephone number can only be called through an account")
		}
	default:
		return 403, fmt.Errorf("%s: addresses are not called (only SIP)", rt.Scheme)
	}
	if m.cfg.TransferScreen != nil {
		if err := m.cfg.TransferScreen(rt.URI); err != nil {
			return 603, err
		}
	}
	return 0, nil
}

// notifier starts the goroutine that sends the NOTIFYs queued on notes in c's dialog, one at a time
// and in order. It ends after the last (terminated) one, when notes closes (the call ended), or
// when the phone stops.
func (m *Manager) notifier(c *call, notes <-chan referNote, event string) {
	dlg, target, ob := c.dialog(), c.remoteTarget(), m.credentials(c)
	id, log := c.id, m.log
	go func() {
		for n := range notes {
			build := func() *sip.Request {
				req := sip.NewRequest(sip.NOTIFY, target)
				req.AppendHeader(sip.NewHeader("Event", event))
				state := "active;expires=" + strconv.Itoa(referExpires)
				if n.terminated {
					state = "terminated;reason=noresource"
				}
				req.AppendHeader(sip.NewHeader("Subscription-State", state))
				req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
				req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
				req.SetBody(n.frag)
				return req
			}
			ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
			res, err := doAuthed(ctx, dlg, build, ob)
			cancel()
			switch {
			case err != nil:
				log.Info("transfer progress not delivered", "call", id, "error", err)
			case !res.IsSuccess():
				log.Info("transfer progress refused by the far end", "call", id, "status", res.StatusCode)
			}
			if n.terminated {
				m.post(func() {
					if c.xfer != nil && c.xfer.byeAfter && c.state != phone.CallEnded {
						m.after(c, time.Second, nil, func(c *call) { m.hangup(c, "", nil) })
					}
				})
				return
			}
			if m.ctx.Err() != nil {
				return
			}
		}
	}()
}

// queueNote queues a NOTIFY with the target's status on transferred call c; the terminated one
// is the last.
func (m *Manager) queueNote(c *call, code int, reason string, terminated bool) {
	x := c.xfer
	if x == nil || x.notes == nil {
		return
	}
	if c.state != phone.CallEnded {
		select {
		case x.notes <- referNote{frag: refer.FormatSipfrag(code, reason), terminated: terminated}:
		default: // at most four are ever queued: trying, ringing, the outcome
		}
	}
	if terminated || c.state == phone.CallEnded {
		close(x.notes)
		x.notes = nil
	}
}

// referCallChanged follows the call nc placed for a REFER and tells the transferor: ringing,
// then the outcome. When the target answers, the transferred call ends; when it fails, that call
// is taken off hold again.
func (m *Manager) referCallChanged(nc *call) {
	old := nc.referOf
	x := old.xfer
	if x == nil || x.newCall != nc || x.final {
		return
	}
	switch {
	case nc.state == phone.CallRinging && x.info.State != refer.ProgressRinging.String():
		x.info.State = refer.ProgressRinging.String()
		m.queueNote(old, 180, "Ringing", false)
	case nc.answered():
		x.final = true
		x.info.State, x.info.Status, x.info.Reason = refer.ProgressSucceeded.String(), 200, "OK"
		m.log.Info("transfer done: the target answered", "call", old.id, "new_call", nc.id)
		if old.state != phone.CallEnded {
			old.endReason = "transferred to " + nc.remote
			if x.notes == nil {
				m.hangup(old, "", nil)
			} else {
				// The transferor hangs up once it has the final NOTIFY (RFC 5589 §6); if it
				// has not a second after, the call ends from here (notifier).
				x.byeAfter = true
				m.queueNote(old, 200, "OK", true)
			}
		}
	case nc.state == phone.CallEnded:
		x.final = true
		code, reason := nc.failCode, nc.failReason
		if code == 0 {
			code, reason = 503, "Service Unavailable"
			if nc.result == phone.ResultCancelled {
				code, reason = 487, "Request Terminated"
			}
		}
		x.info.State, x.info.Status, x.info.Reason = refer.ProgressFailed.String(), code, reason
		m.queueNote(old, code, reason, true)
		if old.state != phone.CallEnded {
			m.warn(old, fmt.Sprintf("%s transferred the call to %s, which failed: %s; back in the call with %s", old.remote, x.info.Target, nc.endReason, old.remote))
			if old.localHold {
				if err := m.setHold(old, false); err != nil {
					m.warn(old, fmt.Sprintf("could not take the call with %s off hold: %v", old.remote, err))
				}
			}
			m.changed(old)
		}
	default:
		return
	}
	m.publishTransfer(old)
}

// replaceable finds the call an INVITE's Replaces names (RFC 3891 §3): the Call-ID, our tag as
// its to-tag and the far end's as its from-tag. Only answered calls are replaced.
func (m *Manager) replaceable(r refer.Replaces) *call {
	for _, c := range m.calls {
		if c.sipCallID == r.CallID && c.localTag == r.ToTag && c.farTag == r.FromTag && !c.hidden {
			return c
		}
	}
	return nil
}

// transferArgs are the arguments of the "transfer" control command.
type transferArgs struct {
	ID     string `json:"id"`
	Target string `json:"target,omitempty"`
	To     string `json:"to,omitempty"`
}

// TransferCommand serves the "transfer" control command: {"id", "target"} (blind) or {"id", "to"}
// (attended, to call "to"); the result is the transferred call's snapshot.
func TransferCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a transferArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("transfer: unreadable arguments: %v", err)
			}
		}
		if a.Target == "" && a.To == "" {
			return nil, errors.New("transfer needs a target (a favorite, number or SIP address) or --to ID of the call to transfer to")
		}
		return m.Transfer(ctx, a.ID, a.Target, a.To)
	}
}
