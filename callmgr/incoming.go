package callmgr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/refer"
	"trayphone/internal/screen"
	"trayphone/media"
	"trayphone/media/sdp"
)

// handleInvite is sipgo's INVITE handler. It posts the work to the manager and then holds the
// transaction open until the manager has sent the final response (sipgo ends the transaction
// when the handler returns). It returns when that response is out, the caller cancelled, or the
// manager stopped.
func (m *Manager) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		m.handleReinvite(req, tx)
		return
	}
	wait := make(chan chan struct{}, 1)
	m.post(func() { wait <- m.onNewInvite(req, tx) })
	var done chan struct{}
	select {
	case done = <-wait:
	case <-m.done:
		return
	}
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-tx.Done():
	case <-m.done:
	}
}

// onNewInvite decides what to do with a new incoming INVITE. It returns a channel that closes
// when the final response has been sent, or nil if it already has been.
func (m *Manager) onNewInvite(req *sip.Request, tx sip.ServerTransaction) chan struct{} {
	reject := func(code int, reason string) chan struct{} {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.AppendHeader(sip.NewHeader("Server", "trayphone"))
		_ = tx.Respond(res)
		return nil
	}
	if m.stopping {
		return reject(503, "Service Unavailable")
	}
	if req.CallID() == nil || req.From() == nil || req.CSeq() == nil || req.Contact() == nil {
		return reject(400, "Bad Request")
	}
	if m.hasIncoming(string(*req.CallID())) {
		return reject(482, "Loop Detected")
	}
	user := req.Recipient.User
	echo := user == EchoTarget
	if echo && !m.isSelf(req) {
		return reject(403, "Echo test is local only")
	}
	viaAccount, acct := false, ""
	if !echo || !m.isSelf(req) {
		var ok bool
		acct, ok = m.admit(req)
		if !ok {
			// Ghost-call protection: not from our registrar. It never rings, notifies or shows.
			m.logRejected("INVITE not from a registrar refused", "from", req.Source())
			return reject(403, "Forbidden")
		}
		viaAccount = acct != ""
	}
	// An INVITE with Replaces takes the place of one of our answered calls (RFC 3891 §3): the
	// far end of an attended transfer, or a call picked up elsewhere. It must name the dialog
	// exactly; it is answered without ringing, and it passes busy and do not disturb.
	var replaced *call
	if hs := req.GetHeaders("Replaces"); len(hs) > 0 {
		if len(hs) > 1 {
			m.logRejected("INVITE with more than one Replaces refused", "from", req.Source())
			return reject(400, "Bad Request")
		}
		r, err := refer.ParseReplaces(hs[0].Value())
		if err != nil {
			m.logRejected("INVITE with a malformed Replaces refused", "error", err, "from", req.Source())
			return reject(400, "Bad Request")
		}
		replaced = m.replaceable(r)
		switch {
		case replaced == nil:
			m.logRejected("INVITE with Replaces naming no call of ours refused", "call_id", r.CallID, "from", req.Source())
			return reject(481, "Call/Transaction Does Not Exist")
		case r.EarlyOnly && replaced.answered():
			m.logRejected("INVITE replacing an answered call refused: early-only", "call", replaced.id, "from", req.Source())
			return reject(486, "Busy Here")
		case !replaced.answered():
			m.logRejected("INVITE replacing a call not answered yet refused", "call", replaced.id, "from", req.Source())
			return reject(481, "Call/Transaction Does Not Exist")
		}
	}
	if !echo && !viaAccount && user != "" && user != m.ua.User {
		m.logRejected("incoming call for an unknown user rejected", "user", user, "from", req.Source())
		return reject(404, "Not Found")
	}
	action := screen.ActionRing
	if !echo && replaced == nil {
		// A call that replaces one of ours (a transfer we take part in) is not screened.
		if action = m.screenInvite(req, tx); action == screen.ActionReject { // screen.go
			return nil
		}
	}
	// Call forwarding (forward.go) after screening: a call screened out is not sent on, nor one
	// a rule sends to the answering machine.
	if !echo && replaced == nil && action != screen.ActionVoicemail && m.fwd.Mode == phone.ForwardAlways {
		return m.redirect(req, tx, "always")
	}
	if !echo && replaced == nil && action != screen.ActionVoicemail && m.fwd.Mode == phone.ForwardBusy && (m.dnd || m.busy()) {
		return m.redirect(req, tx, "busy")
	}
	if !echo && replaced == nil && m.dnd {
		m.logRejected("incoming call rejected: do not disturb", "from", req.From().Address.String())
		m.missed(req, "rejected: do not disturb", phone.ResultMissed)
		return reject(486, "Busy Here")
	}
	if !echo && replaced == nil && m.busy() {
		m.missed(req, "rejected: busy", phone.ResultBusy)
		return reject(486, "Busy Here")
	}
	src := addrOf(req.Source()).Unmap()
	if !echo && replaced == nil && !viaAccount && m.ringingFrom(src) >= m.maxRingingPerSource() {
		// One address may not keep every line ringing (issue 14: INVITEs never cancelled).
		m.logRejected("incoming call refused: too many calls ringing from one address", "from", src)
		return reject(486, "Busy Here")
	}
	if echo && m.echoCalls() >= maxEchoCalls {
		return reject(486, "Busy Here")
	}
	// An INVITE without SDP asks us to offer in the 200 OK; the answer comes in the ACK (RFC
	// 3261 §13.2.1, "late offer").
	var offer *sdp.Session
	var (
		encPick     *sdp.Crypto
		encDTLSPlan bool
	)
	sigTLS := strings.EqualFold(req.Transport(), "TLS")
	if len(req.Body()) > 0 {
		var err error
		if offer, err = sdp.Parse(req.Body()); err != nil {
			m.logRejected("incoming call with bad SDP rejected", "error", err)
			return reject(488, "Not Acceptable Here")
		}
		if _, _, err := sdp.Negotiate(offer, m.supportedFormats()); err != nil {
			return reject(488, "Not Acceptable Here")
		}
		probe := &call{account: acct, sigTLS: sigTLS, remote: req.From().Address.String(), echoLeg: echo}
		if encPick, err = m.checkOffer(probe, offer); err != nil { // srtp.go
			m.logRejected("incoming call refused: media encryption", "reason", err.Error())
			return reject(488, "Not Acceptable Here")
		}
		encDTLSPlan = m.pickDTLS(probe, offer) != nil // dtls.go
	} else if echo {
		return reject(488, "Not Acceptable Here")
	}
	dlg, err := m.dialogUAFor(acct).ReadInvite(req, tx)
	if err != nil {
		return reject(400, "Bad Request")
	}
	c := m.newCall(phone.Incoming, req.From().Address.String())
	c.remoteNm = cleanName(req.From().DisplayName)
	c.account = acct
	c.sipCallID = string(*req.CallID())
	c.sdlg = dlg
	c.offer = offer
	c.sigTLS = sigTLS
	switch {
	case encDTLSPlan:
		c.encPlanned = encDTLS
	case encPick != nil:
		c.encPlanned = encSRTP
	}
	c.state = phone.CallIncoming
	c.inviteDone = make(chan struct{})
	c.source = src
	c.farTag, _ = req.From().Params.Get("tag")
	c.localIP = addrOf(req.Destination())
	if !c.localIP.IsValid() || c.localIP.IsUnspecified() {
		c.localIP = m.ua.LocalIPFor(addrOf(req.Source()))
	}
	c.localTag, _ = dlg.InviteRequest.To().Params.Get("tag")
	m.byDialog[dialogKey(c.sipCallID, c.localTag)] = c
	dlg.OnState(func(s sip.DialogState) {
		if s == sip.DialogStateEnded {
			m.post(func() { m.onDialogEnded(c) })
		}
	})
	_ = dlg.Respond(100, "Trying", nil)
	if echo {
		c.hidden, c.echoLeg = true, true
		m.answer(c, nil, func(err error) {
			if err != nil {
				m.log.Warn("echo test could not answer", "error", err)
			}
		})
		m.after(c, maxEchoDuration, nil, func(c *call) {
			m.hangup(c, fmt.Sprintf("echo test ended after %s", maxEchoDuration), nil)
		})
		return c.inviteDone
	}
	if replaced != nil {
		m.log.Info("incoming call replaces a call: answered at once", "call", c.id, "from", c.remote, "replaces", replaced.id)
		m.hangup(replaced, "replaced: "+c.remote+" took the call over", nil)
		m.holdOthers(c)
		m.answer(c, nil, func(err error) {
			if err != nil {
				m.warn(c, fmt.Sprintf("could not answer %s, who took over the call: %v", c.remote, err))
			}
		})
		return c.inviteDone
	}
	if action == screen.ActionVoicemail {
		err := m.toVoicemail(c, "a screening rule")
		if err == nil || c.state == phone.CallEnded { // ended: answer failed and said why
			m.changed(c)
			return c.inviteDone
		}
		m.warn(c, fmt.Sprintf("a screening rule sends the call from %s to voicemail, but %v; it rings instead", c.remote, err))
	}
	c.silent = action == screen.ActionSilent
	_ = dlg.Respond(180, "Ringing", nil)
	m.log.Info("incoming call", "call", c.id, "from", c.remote, "silent", c.silent)
	m.changed(c)
	if m.cfg.VoicemailAfter > 0 && m.cfg.Voicemail != nil {
		m.after(c, m.cfg.VoicemailAfter, c.inviteDone, func(c *call) {
			if c.state != phone.CallIncoming {
				return
			}
			if err := m.toVoicemail(c, fmt.Sprintf("nobody answered in %s", m.cfg.VoicemailAfter)); err != nil {
				m.warn(c, fmt.Sprintf("the answering machine could not take the call from %s: %v", c.remote, err))
				return
			}
			m.changed(c)
		})
	}
	m.after(c, m.cfg.IncomingRingTimeout, c.inviteDone, func(c *call) {
		if c.state != phone.CallIncoming {
			return
		}
		m.log.Info("incoming call not answered in time", "call", c.id, "from", c.remote, "after", m.cfg.IncomingRingTimeout)
		m.respondFinal(c, 480, "Temporarily Unavailable", nil)
		m.endCall(c, "")
	})
	m.forwardNoAnswer(c) // forward.go
	if !c.silent {
		m.armAutoAnswer(c, req) // autoanswer.go; a call screened to ring silently is not answered by itself
	}
	return c.inviteDone
}

// after runs f on the manager goroutine after d, if call c has not ended by then and stop (nil:
// never) has not closed. Its goroutine ends when d has passed, stop closes, or the phone stops.
func (m *Manager) after(c *call, d time.Duration, stop <-chan struct{}, f func(*call)) {
	id := c.id
	go func() {
		t := m.clk.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
			m.post(func() {
				if c := m.calls[id]; c != nil && c.state != phone.CallEnded {
					f(c)
				}
			})
		case <-stop:
		case <-m.ctxDone():
		}
	}()
}

// logRejected logs a refused INVITE: at most once per 10 s per message, with how many were left
// out since (issue 14: a flood of 2,000 INVITEs wrote 2,000 log lines). Manager goroutine only.
func (m *Manager) logRejected(msg string, args ...any) {
	now := m.clk.Now()
	if m.rejectLog == nil {
		m.rejectLog = map[string]rejectLog{}
	}
	l := m.rejectLog[msg]
	if !l.last.IsZero() && now.Sub(l.last) < 10*time.Second {
		l.left++
		m.rejectLog[msg] = l
		return
	}
	if l.left > 0 {
		args = append(args, "similar_left_out", l.left)
	}
	m.rejectLog[msg] = rejectLog{last: now}
	m.log.Info(msg, args...)
}

// rejectLog is logRejected's state for one message.
type rejectLog struct {
	last time.Time
	left int
}

// ringingFrom counts the unanswered direct incoming calls from ip.
func (m *Manager) ringingFrom(ip netip.Addr) int {
	n := 0
	for _, c := range m.calls {
		if c.dir == phone.Incoming && c.state == phone.CallIncoming && c.account == "" && c.source == ip {
			n++
		}
	}
	return n
}

// echoCalls counts the running echo tests.
func (m *Manager) echoCalls() int {
	n := 0
	for _, c := range m.calls {
		if c.echoLeg {
			n++
		}
	}
	return n
}

// isSelf reports whether req came from this machine.
func (m *Manager) isSelf(req *sip.Request) bool {
	src := addrOf(req.Source())
	return src.IsLoopback() || src == m.ua.Host
}

// maxRingingPerSource is how many direct calls from one address may ring at once: an
// application server takes as many as it takes calls.
func (m *Manager) maxRingingPerSource() int {
	if m.cfg.AppServer {
		return m.cfg.MaxCalls
	}
	return maxRingingPerSource
}

// busy reports whether a new incoming call must get 486.
func (m *Manager) busy() bool {
	n := 0
	for _, c := range m.calls {
		if !c.hidden {
			n++
		}
	}
	return n >= m.cfg.MaxCalls || (n > 0 && !m.cfg.CallWaiting && !m.cfg.AppServer)
}

// missed files a rejected call in the history so the user can see it.
func (m *Manager) missed(req *sip.Request, reason, result string) {
	c := m.newCall(phone.Incoming, req.From().Address.String())
	c.remoteNm = cleanName(req.From().DisplayName)
	c.state = phone.CallIncoming
	c.refused = true
	c.result = result
	m.endCall(c, reason)
}

// answer accepts incoming call c: media starts, 200 OK with the SDP answer goes out. What may
// block (STUN or TURN for the audio socket behind a NAT, opening the sound card) runs off the
// manager goroutine, so the caller's CANCEL is handled at once. done (if set) hears, once, nil
// when the 200 OK is on its way or why the call could not be answered; on failure undo (if set)
// runs first.
func (m *Manager) answer(c *call, undo func(), done func(error)) {
	c.answering = true
	fail := func(code int, reason string, err error) {
		c.answering = false
		m.respondFinal(c, code, reason, nil)
		if c.state != phone.CallEnded {
			c.result = phone.ResultFailed
			m.endCall(c, err.Error())
		}
		if undo != nil {
			undo()
		}
		if done != nil {
			done(err)
		}
	}
	answered := func(body []byte) {
		c.answering = false
		m.sendAnswer(c, body)
		if done != nil {
			done(nil)
		}
	}
	if err := m.openRTP(c); err != nil {
		fail(500, "Server Internal Error", err)
		return
	}
	_ = m.natOpen(c, func() error {
		if c.offer == nil {
			// Late offer: our offer goes in the 200 OK, media starts with the answer in the ACK.
			body, err := m.buildOffer(c)
			if err != nil {
				fail(500, "Server Internal Error", err)
				return nil
			}
			answered(body)
			return nil
		}
		body, err := m.answerOffer(c, c.offer)
		if err != nil {
			fail(488, "Not Acceptable Here", err)
			return nil
		}
		dev := m.callDevice(c)
		if c.echoLeg {
			dev = media.NewEcho(echoDelay)
		}
		if c.dtls != nil {
			// DTLS-SRTP (dtls.go): the caller needs our answer's fingerprint to finish the
			// handshake, so the 200 OK goes out as it starts; the audio starts when it is done
			// (the device opens off the manager goroutine then), and a handshake or device that
			// fails ends the answered call with a BYE.
			m.startMediaOrDTLS(c, dev, nil, func(err error) { m.hangup(c, err.Error(), nil) })
			answered(body)
			return nil
		}
		m.startMediaWith(c, dev, func() { answered(body) }, func(err error) {
			fail(500, "Server Internal Error", err)
		})
		return nil
	}, func(err error) { fail(500, "Server Internal Error", err) })
}

// sendAnswer marks c answered and sends the 200 OK with body (our SDP answer, or our offer when
// the INVITE had none) until the ACK comes.
func (m *Manager) sendAnswer(c *call, body []byte) {
	c.state = phone.CallActive
	c.answerAt = m.clk.Now()
	dlg, done := c.sdlg, c.inviteDone
	go func() {
		// Ends when the ACK arrives or after 64*T1 of retransmitting the 200 OK.
		err := dlg.RespondSDP(body)
		close(done)
		m.post(func() {
			delete(m.unacked, dialogKey(c.sipCallID, c.localTag))
			if err != nil {
				if c.state != phone.CallEnded {
					m.endCall(c, "the caller never confirmed the answer (no ACK)")
					go byeDialog(dlg)
				}
			}
		})
	}()
	m.log.Info("call answered", "call", c.id, "remote", c.remote, "codec", c.codec.Name)
	m.changed(c)
}

// respondFinal sends a final non-2xx response to the INVITE of incoming call c. If wg is set it
// is done when the response is out.
func (m *Manager) respondFinal(c *call, code int, reason string, wg *sync.WaitGroup) {
	dlg, done := c.sdlg, c.inviteDone
	if dlg == nil || done == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		// Ends when the ACK for the final response arrives or the transaction times out.
		if wg != nil {
			defer wg.Done()
		}
		_ = dlg.Respond(code, reason, nil)
		close(done)
	}()
}

// onDialogEnded handles sipgo ending an incoming dialog: the caller cancelled while ringing.
func (m *Manager) onDialogEnded(c *call) {
	if c.state == phone.CallIncoming {
		m.endCall(c, "missed: the caller hung up")
	}
}

// handleAck confirms the 2xx of an incoming INVITE or re-INVITE.
func (m *Manager) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	m.await(func() {
		if req.CallID() == nil {
			return
		}
		c := m.dialogOf(req)
		if c == nil {
			if req.To() != nil {
				tag, _ := req.To().Params.Get("tag")
				k := dialogKey(string(*req.CallID()), tag)
				if dlg := m.unacked[k]; dlg != nil {
					_ = dlg.ReadAck(req, tx)
					delete(m.unacked, k)
				}
			}
			return
		}
		if c.sdlg != nil {
			_ = c.sdlg.ReadAck(req, tx)
		}
		if c.dir == phone.Incoming && c.offer == nil && c.sess == nil && c.answered() {
			m.lateAnswer(c, req.Body())
		}
		if c.acked != nil {
			close(c.acked)
			c.acked = nil
		}
	})
}

// handleBye ends the call the BYE belongs to, or answers 481.
func (m *Manager) handleBye(req *sip.Request, tx sip.ServerTransaction) {
	m.await(func() {
		c := m.dialogOf(req)
		if c == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		var err error
		if c.cdlg != nil {
			err = c.cdlg.ReadBye(req, tx)
		} else if c.sdlg != nil {
			err = c.sdlg.ReadBye(req, tx)
		}
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		reason := "the far end hung up"
		if c.state == phone.CallIncoming {
			reason = "missed: the caller hung up"
		}
		m.endCall(c, reason)
	})
}

// handleOptions answers OPTIONS pings and capability queries; with ghost-call protection on,
// only those that come through a registrar.
func (m *Manager) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	if m.cfg.RejectDirectCalls && m.cfg.Accounts != nil {
		if _, ok := m.cfg.Accounts.Admit(req); !ok {
			// A scanner probing for phones: answering would tell it one is here.
			return
		}
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Server", "trayphone"))
	_ = tx.Respond(res)
}

// errNoAck is reported when a 2xx to a re-INVITE is never acknowledged.
var errNoAck = errors.New("no ACK")

// respond2xx sends res on tx and retransmits it (T1, doubling up to T2) until acked closes or
// 64*T1 pass (RFC 3261 §13.3.1.4), or stop closes (the manager has shut down: its calls are
// over). It runs in the handler goroutine.
func respond2xx(tx sip.ServerTransaction, res *sip.Response, acked, stop <-chan struct{}) error {
	if err := tx.Respond(res); err != nil {
		return fmt.Errorf("send 200 OK: %w", err)
	}
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	for {
		t := time.NewTimer(interval)
		select {
		case <-acked:
			t.Stop()
			return nil
		case <-stop:
			t.Stop()
			return nil
		case <-deadline.C:
			t.Stop()
			return errNoAck
		case <-t.C:
			_ = tx.Respond(res)
			interval = min(2*interval, sip.T2)
		}
	}
}

// lateAnswer takes the SDP answer in the ACK of a call whose INVITE had no offer, and starts
// its media; without a usable answer the call ends with a BYE.
func (m *Manager) lateAnswer(c *call, body []byte) {
	err := m.applyAnswer(c, body, nil)
	if err == nil {
		m.syncCallState(c)
		m.changed(c)
		return
	}
	m.endCall(c, err.Error())
	if dlg := c.sdlg; dlg != nil {
		go byeAuthed(dlg, m.credentials(c), m.log)
	}
}
