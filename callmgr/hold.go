package callmgr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/media"
	"trayphone/media/sdp"
)

// setHold puts c on hold or takes it off with a re-INVITE (RFC 3264 §8.4). A hold silences the
// call at this end at once (the far end stops hearing the user before it answers); a resume
// takes effect when the far end accepts. A refusal leaves the call as it was and says why,
// except for a hold the user made by turning to another call (keepHeld): that one stays. A
// change while a re-INVITE is out is offered when that one ends.
func (m *Manager) setHold(c *call, hold bool) error {
	if c.localHold == hold {
		return nil
	}
	if c.dialog() == nil {
		return errors.New("the call has no dialog yet")
	}
	c.localHold = hold
	c.resuming = !hold
	if !hold {
		c.keepHeld = false
	} else {
		m.applyHoldFlags(c)
	}
	if c.reinviting {
		c.reoffer = true
		return nil
	}
	if err := m.offerHold(c); err != nil {
		if !c.keepHeld {
			c.localHold = !hold
		}
		c.resuming = false
		m.applyHoldFlags(c)
		return err
	}
	return nil
}

// offerHold sends a re-INVITE offering c's current hold state.
func (m *Manager) offerHold(c *call) error {
	hold := c.localHold
	body, err := m.buildOffer(c)
	if err != nil {
		return err
	}
	m.reinvite(c, body, func(res *sip.Response, err error) { m.onReinviteDone(c, hold, res, err) })
	return nil
}

// holdOthers puts every other answered call the user hears on hold before the user turns to c
// (answers it, resumes it or calls out): one microphone and one speaker must not be shared by two calls, or
// the first caller hears everything said to the second (issue 15). Calls in c's conference stay.
// Each call is silenced at once; its re-INVITE follows, and a far end that refuses it still
// hears nothing. It returns the calls it held.
func (m *Manager) holdOthers(c *call) []*call {
	if m.cfg.AppServer {
		return nil // an application server's calls are independent: none holds another
	}
	var held []*call
	for _, o := range m.liveCalls() {
		if o == c || o.hidden || o.voicemail || !o.answered() || o.localHold || (c.conf != nil && o.conf == c.conf) {
			continue
		}
		o.keepHeld = true
		if err := m.setHold(o, true); err != nil {
			m.warn(o, fmt.Sprintf("could not put the call with %s on hold: %v; it is silent at this end", o.remote, err))
		}
		m.log.Info("call put on hold for another call", "call", o.id, "for", c.id)
		m.changed(o)
		held = append(held, o)
	}
	return held
}

// onReinviteDone applies the far end's answer to our hold/resume re-INVITE.
func (m *Manager) onReinviteDone(c *call, hold bool, res *sip.Response, err error) {
	if c.state == phone.CallEnded {
		return
	}
	what := "resume"
	if hold {
		what = "hold"
	}
	if !hold {
		c.resuming = false // accepted or not, the resume is over
	}
	failed := ""
	switch {
	case err != nil:
		failed = fmt.Sprintf("could not %s the call with %s: %v", what, c.remote, err)
	case !res.IsSuccess():
		failed = fmt.Sprintf("%s refused to %s the call (%d %s)", c.remote, what, res.StatusCode, res.Reason)
	default:
		if err := m.applyAnswer(c, res.Body(), nil); err != nil {
			m.warn(c, fmt.Sprintf("the answer to %s from %s was not usable: %v", what, c.remote, err))
		}
	}
	switch {
	case failed == "":
	case c.reoffer: // the user changed it again meanwhile: that offer follows
		m.warn(c, failed)
	case hold && c.keepHeld:
		m.warn(c, failed+"; the call stays on hold at this end: "+c.remote+" hears nothing")
	default:
		c.localHold = !hold
		m.warn(c, failed)
	}
	m.syncCallState(c)
	m.changed(c)
}

// syncCallState derives active/held from the hold flags and points the media the right way.
func (m *Manager) syncCallState(c *call) {
	if !c.answered() {
		return
	}
	m.applyHoldFlags(c)
	if c.sess != nil && c.remoteRTP.IsValid() {
		c.sess.SetRemote(m.rtpTarget(c)) // nat.go: the TURN bridge when relayed
	}
}

// applyHoldFlags derives active/held from the hold flags and sets the media's direction and
// mute from them, without touching where the media goes (a hold before the far end answers).
func (m *Manager) applyHoldFlags(c *call) {
	if !c.answered() {
		return
	}
	local := c.heldHere()
	if local || c.remHold {
		c.state = phone.CallHeld
	} else {
		c.state = phone.CallActive
	}
	if c.sess != nil {
		dir := media.SendRecv
		switch {
		case local && c.remHold:
			dir = media.Inactive
		case local:
			dir = media.SendOnly
		case c.remHold:
			dir = media.RecvOnly
		}
		c.sess.SetDirection(dir)
		c.sess.SetMuted(c.muted || local) // on hold the far end hears silence, not our room
	}
}

// handleReinvite answers an in-dialog INVITE from the far end (hold, resume, new address).
// It returns when the 2xx has been acknowledged (or given up on) or the request was refused.
func (m *Manager) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	type result struct {
		res   *sip.Response
		acked chan struct{}
	}
	out := make(chan result, 1)
	m.post(func() {
		c := m.dialogOf(req)
		// An outgoing DTLS-SRTP call whose handshake runs is answered at the far end already.
		if c == nil || (!c.answered() && c.dtlsRun == nil) {
			out <- result{res: sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil)}
			return
		}
		if c.sdlg != nil {
			if err := c.sdlg.ReadRequest(req, tx); err != nil {
				out <- result{res: sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)}
				return
			}
		}
		if c.reinviting {
			out <- result{res: sip.NewResponseFromRequest(req, 491, "Request Pending", nil)}
			return
		}
		var body []byte
		if len(req.Body()) == 0 {
			var err error
			if body, err = m.buildOffer(c); err != nil {
				out <- result{res: sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)}
				return
			}
		} else {
			offer, err := sdp.Parse(req.Body())
			if err != nil {
				out <- result{res: sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil)}
				return
			}
			if body, err = m.answerOffer(c, offer); err != nil {
				out <- result{res: sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil)}
				return
			}
		}
		m.syncCallState(c)
		m.changed(c)
		res := sip.NewSDPResponseFromRequest(req, body)
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: m.ua.User, Host: c.localIP.String(), Port: m.ua.Port}})
		c.acked = make(chan struct{})
		out <- result{res: res, acked: c.acked}
	})
	var r result
	select {
	case r = <-out:
	case <-m.done:
		return
	}
	if r.acked == nil {
		_ = tx.Respond(r.res)
		return
	}
	if err := respond2xx(tx, r.res, r.acked, m.done); err != nil {
		m.log.Warn("re-INVITE answer not acknowledged", "error", err)
	}
}

// reinvite sends an in-dialog INVITE with our new offer body on c (RFC 3264 §8), answers a proxy's
// challenge with the account's credentials, ACKs a 2xx, and calls done on the manager goroutine
// with the final response or the error. c.reinviting is set until then.
func (m *Manager) reinvite(c *call, body []byte, done func(*sip.Response, error)) {
	dlg := c.dialog()
	target := c.remoteTarget()
	build := func() *sip.Request {
		req := sip.NewRequest(sip.INVITE, target)
		req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
		req.AppendHeader(sip.NewHeader("Allow", allowMethods))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
		return req
	}
	ob := m.credentials(c)
	c.reinviting = true
	answered := c.inviteDone // nil for calls we placed
	go func() {
		// Ends when the re-INVITE has a final response (bounded by Timer B) or the phone stops.
		ctx, cancel := context.WithTimeout(m.ctx, 32*time.Second)
		defer cancel()
		if answered != nil {
			// A new INVITE waits until the ACK for our 200 OK ended the first one (RFC 3261
			// §14.1); the answering goroutine is also still using the dialog until then.
			select {
			case <-answered:
			case <-ctx.Done():
			}
		}
		res, err := doAuthed(ctx, dlg, build, ob)
		if err == nil && res.IsSuccess() {
			if werr := dlg.WriteRequest(sip.NewRequest(sip.ACK, target)); werr != nil {
				err = fmt.Errorf("send ACK: %w", werr)
			}
		}
		m.post(func() {
			c.reinviting = false
			done(res, err)
			if c.reoffer && !c.reinviting && c.state != phone.CallEnded {
				// The hold state changed while this re-INVITE (ours, or a NAT move's) was out.
				c.reoffer = false
				if err := m.offerHold(c); err != nil {
					m.warn(c, fmt.Sprintf("could not offer the call with %s again: %v", c.remote, err))
				}
			}
			if x := c.xfer; x != nil && x.pendingRefer != "" && !c.reinviting && c.state != phone.CallEnded {
				// A transfer waited for this re-INVITE (transfer.go).
				m.sendRefer(c, x.pendingRefer)
				x.pendingRefer = ""
			}
		})
	}()
}
