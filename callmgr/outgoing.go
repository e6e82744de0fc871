package callmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// startOutgoing creates an outgoing call and sends its INVITE, with the extra headers (a transfer's
// Referred-By and Replaces). Runs on the manager goroutine.
func (m *Manager) startOutgoing(target, account string, extra ...sip.Header) (*call, error) {
	if m.stopping {
		return nil, ErrStopped
	}
	uri, echo, err := resolveTarget(target, m.cfg.Favorites)
	ob, oberr := m.outboundFor(account, echo, uri, err == nil)
	if oberr != nil {
		return nil, oberr
	}
	if ob != nil {
		uri, err = targetVia(target, m.cfg.Favorites, ob.Domain)
	}
	if err != nil {
		return nil, err
	}
	if echo {
		self := m.ua.SelfAddr()
		uri = sip.Uri{Scheme: "sip", User: EchoTarget, Host: self.Addr().String(), Port: int(self.Port())}
	}
	if n := len(m.calls); n >= m.cfg.MaxCalls {
		return nil, fmt.Errorf("already %d calls: hang one up first", n)
	}
	c := m.newCall(phone.Outgoing, uri.String())
	if _, ok := m.cfg.Favorites[strings.TrimSpace(target)]; ok {
		c.favorite = strings.TrimSpace(target)
	}
	if echo {
		c.remote = EchoTarget
		c.remoteNm = "Echo test"
	}
	c.state = phone.CallDialing
	if ob != nil {
		c.account = ob.Account
	}
	c.localIP = m.ua.Host
	if ip, err := netip.ParseAddr(uri.Host); err == nil {
		c.localIP = m.ua.LocalIPFor(ip.Unmap())
	}
	if ob != nil && ob.LocalIP.IsValid() {
		c.localIP = ob.LocalIP
	}
	// The INVITE's transport, set below: whether SDES keys may go in the offer (srtp.go).
	c.sigTLS = strings.EqualFold(uri.Scheme, "sips")
	if tr, ok := uri.UriParams.Get("transport"); ok {
		c.sigTLS = c.sigTLS || strings.EqualFold(tr, "tls")
	}
	if ob != nil {
		c.sigTLS = strings.EqualFold(ob.Transport, "TLS")
	}
	if err := m.openRTP(c); err != nil {
		delete(m.calls, c.id)
		return nil, err
	}
	// Behind a NAT, finding the audio socket's public address takes round trips to the STUN or
	// TURN server: the call shows as dialing meanwhile, and the INVITE follows (natOpen).
	c.inviteURI, c.ob, c.inviteExtra = uri, ob, extra
	err = m.natOpen(c, func() error { return m.sendInvite(c) }, func(err error) {
		c.result = phone.ResultFailed
		m.endCall(c, err.Error())
	})
	if err != nil {
		m.closeRTP(c)
		delete(m.calls, c.id)
		return nil, err
	}
	if c.sipCallID == "" && c.state != phone.CallEnded {
		m.changed(c) // the INVITE waits for natOpen
	}
	return c, nil
}

// sendInvite builds c's offer and sends its INVITE to c.inviteURI (through c.ob, if set), with
// c.inviteExtra (a transfer's headers); a goroutine waits for the outcome (onRinging,
// onInviteDone). A retry (retrySecure, retryWithoutFingerprint) sends it again the same way.
func (m *Manager) sendInvite(c *call) error {
	offer, err := m.buildOffer(c)
	if err != nil {
		return err
	}
	uri, ob := c.inviteURI, c.ob
	req := sip.NewRequest(sip.INVITE, uri)
	if tr, ok := uri.UriParams.Get("transport"); ok && tr != "" {
		req.SetTransport(strings.ToUpper(tr))
	}
	from := &sip.FromHeader{
		DisplayName: m.ua.DisplayName,
		Address:     sip.Uri{Scheme: "sip", User: m.ua.User, Host: c.localIP.String(), Port: m.ua.Port},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sipua.Token(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}})
	contact := m.directContact(c) // nat.go: the SIP socket's public address behind a NAT
	var auth sipgo.AnswerOptions
	if ob != nil {
		from.DisplayName, from.Address = ob.DisplayName, ob.From
		contact = ob.Contact
		if ob.Route != nil {
			req.AppendHeader(&sip.RouteHeader{Address: *ob.Route})
		}
		req.SetTransport(ob.Transport)
		auth.Username, auth.Password = ob.AuthUser, ob.Password
	}
	req.AppendHeader(&sip.ContactHeader{Address: contact})
	inviteHop := uri // where the INVITE goes first: its Route, else its Request-URI
	if rt := req.Route(); rt != nil {
		inviteHop = rt.Address
	}
	req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range c.inviteExtra {
		req.AppendHeader(h)
	}
	req.SetBody(offer)
	callID := sip.CallIDHeader(sipua.Token(16))
	req.AppendHeader(&callID)
	c.sipCallID = string(callID)
	c.localTag, _ = from.Params.Get("tag")
	m.byDialog[dialogKey(c.sipCallID, c.localTag)] = c

	// The user turns to the new call: every call they were talking in is held first, as when
	// answering a waiting call (hold.go holdOthers), so nobody hears the new conversation. The
	// held calls stay held if the new call fails: `resume` takes one back.
	m.holdOthers(c)
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.RingTimeout)
	c.cancelRing = cancel
	m.log.Info("calling", "call", c.id, "remote", c.remote)
	m.changed(c)

	go func() {
		// This goroutine ends when the INVITE transaction has a final outcome: answer, failure,
		// or CANCEL completed.
		defer cancel()
		dlg, err := m.dlgUA.WriteInvite(ctx, req)
		if err != nil {
			m.post(func() { m.onInviteDone(c, nil, err, ctx) })
			return
		}
		m.post(func() { c.cdlg = dlg })
		err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: auth.Username, Password: auth.Password, OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 || res.StatusCode == 183 {
				m.post(func() { m.onRinging(c) })
			}
			if (res.StatusCode == 401 || res.StatusCode == 407) && ob != nil && auth.Password != "" {
				// sipgo answers every challenge: refuse here the ones that are not the
				// account's (a far end fishing for a digest to crack offline).
				return ob.CheckChallenge(res, inviteHop)
			}
			return nil
		}})
		m.post(func() { m.onInviteDone(c, dlg, err, ctx) })
	}()
	return nil
}

// retryWithoutFingerprint sends the INVITE again without our DTLS-SRTP fingerprint when it did
// not fit in a UDP datagram (sipgo refuses requests over 1300 bytes on UDP, RFC 3261 §18.1.1)
// and the fingerprint was only a best-effort offer (media_encryption = "optional"). It reports
// whether a new INVITE went out.
func (m *Manager) retryWithoutFingerprint(c *call, err error) bool {
	if !errors.Is(err, sip.ErrUDPMTUCongestion) && !strings.Contains(err.Error(), sip.ErrUDPMTUCongestion.Error()) {
		return false
	}
	if c.noFingerprint || c.secureOffer || m.encryptionMode(c) != EncryptionOptional || m.offerDTLS(c) == nil {
		return false
	}
	c.noFingerprint = true
	delete(m.byDialog, dialogKey(c.sipCallID, c.localTag))
	m.log.Info("the INVITE with the DTLS-SRTP fingerprint is too large for UDP: calling without it", "call", c.id)
	return m.sendInvite(c) == nil
}

// retrySecure offers again, encrypted audio only, when the far end refused (488) the
// best-effort offer of media_encryption = "optional" (RTP/AVP with SDES keys and our
// fingerprint): far ends that take only secure transports (baresip's dtls_srtp and srtp-mand,
// WebRTC gateways) refuse RTP/AVP. It reports whether a new INVITE went out.
func (m *Manager) retrySecure(c *call, err error) bool {
	var resErr *sipgo.ErrDialogResponse
	if !errors.As(err, &resErr) || resErr.Res.StatusCode != 488 || c.secureOffer ||
		m.encryptionMode(c) != EncryptionOptional || (m.offerDTLS(c) == nil && !m.sdesAllowed(c)) {
		return false
	}
	c.secureOffer = true
	delete(m.byDialog, dialogKey(c.sipCallID, c.localTag))
	m.log.Info("the far end refused audio with optional encryption (488): offering encrypted audio only", "call", c.id)
	return m.sendInvite(c) == nil
}

// onRinging handles 180/183 on an outgoing call.
func (m *Manager) onRinging(c *call) {
	if c.state != phone.CallDialing {
		return
	}
	c.state = phone.CallRinging
	m.changed(c)
}

// onInviteDone handles the final outcome of an outgoing INVITE.
func (m *Manager) onInviteDone(c *call, dlg *sipgo.DialogClientSession, err error, ctx context.Context) {
	if dlg != nil {
		c.cdlg = dlg
	}
	if c.state == phone.CallEnded {
		// The user hung up meanwhile. If the far end answered anyway (200 crossed our CANCEL),
		// confirm and end that dialog properly.
		if err == nil && dlg != nil {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = dlg.Ack(ctx)
				_ = dlg.Bye(ctx)
			}()
		}
		return
	}
	if err != nil {
		if m.retrySecure(c, err) || m.retryWithoutFingerprint(c, err) {
			return
		}
		c.result = inviteResult(err, ctx)
		var resErr *sipgo.ErrDialogResponse
		if errors.As(err, &resErr) {
			c.failCode, c.failReason = resErr.Res.StatusCode, resErr.Res.Reason
		}
		m.endCall(c, m.inviteFailure(c, err, ctx))
		return
	}
	res := dlg.InviteResponse
	if to := res.To(); to != nil {
		c.farTag, _ = to.Params.Get("tag")
	}
	c.source = addrOf(res.Source()).Unmap()
	ackCtx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	if err := dlg.Ack(ackCtx); err != nil {
		m.warn(c, fmt.Sprintf("could not confirm the answer to %s: %v", c.remote, err))
	}
	// The call is answered from here on (a hang-up sends BYE), but shows as such once its
	// audio runs: the sound card opens off the manager goroutine (applyAnswer).
	if err := m.applyAnswer(c, res.Body(), func() {
		m.log.Info("call answered", "call", c.id, "remote", c.remote, "codec", c.codec.Name)
		m.changed(c)
	}); err != nil {
		m.endCall(c, err.Error())
		go byeDialog(dlg)
		return
	}
	if c.dtlsRun != nil {
		return // dtls.go: the call is answered once its audio is keyed (onDTLSDone)
	}
	m.outgoingAnswered(c)
}

// outgoingAnswered marks an outgoing call answered: a hang-up sends BYE from here on. It shows
// as such (changed) once its audio runs.
func (m *Manager) outgoingAnswered(c *call) {
	c.state = phone.CallActive
	c.answerAt = m.clk.Now()
}

// inviteResult is how an outgoing INVITE that got no answer went, for the history: busy,
// declined, cancelled (by us, or we stopped waiting for an answer) or failed.
func inviteResult(err error, ctx context.Context) string {
	var resErr *sipgo.ErrDialogResponse
	if errors.As(err, &resErr) {
		switch resErr.Res.StatusCode {
		case 486, 600:
			return phone.ResultBusy
		case 603:
			return phone.ResultDeclined
		case 487:
			return phone.ResultCancelled
		}
		return phone.ResultFailed
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return phone.ResultCancelled
	}
	return phone.ResultFailed
}

// inviteFailure says in plain words why an outgoing INVITE ended without an answer.
func (m *Manager) inviteFailure(c *call, err error, ctx context.Context) string {
	var refused *sipua.CredentialsRefusedError
	if errors.As(err, &refused) {
		return fmt.Sprintf("call to %s failed: %v", c.remote, refused)
	}
	var resErr *sipgo.ErrDialogResponse
	if errors.As(err, &resErr) {
		if code := resErr.Res.StatusCode; code == 488 && c.secureOffer {
			return fmt.Sprintf("%s refused audio both with optional encryption and encrypted only (488)", c.remote)
		}
		if code := resErr.Res.StatusCode; code == 488 && (len(c.offeredKeys) > 0 || m.offerDTLS(c) != nil) && m.encryptionMode(c) == EncryptionRequired {
			return fmt.Sprintf("%s refused encrypted audio (488) and media_encryption is required", c.remote)
		}
		return statusReason(c.remote, resErr.Res.StatusCode, resErr.Res.Reason)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer from %s after %s", c.remote, m.cfg.RingTimeout)
	}
	if errors.Is(err, context.Canceled) {
		return "call cancelled"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || strings.Contains(err.Error(), "refused") {
		return fmt.Sprintf("could not reach %s: %v", c.remote, err)
	}
	if errors.Is(err, sip.ErrTransactionTimeout) || strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "timeout") {
		return fmt.Sprintf("%s did not respond (is it online and reachable?)", c.remote)
	}
	return fmt.Sprintf("call to %s failed: %v", c.remote, err)
}

// hangup ends c the way its state requires. If wg is set, it is done when the SIP side is.
func (m *Manager) hangup(c *call, reason string, wg *sync.WaitGroup) {
	switch {
	case c.state == phone.CallEnded:
		return
	case c.dir == phone.Outgoing && !c.answered() && c.dtlsRun == nil:
		if c.cancelRing != nil {
			c.cancelRing() // WaitAnswer sends CANCEL
		}
		if reason == "" {
			reason = "cancelled"
		}
		c.result = phone.ResultCancelled
	case c.dir == phone.Incoming && !c.answered():
		if reason == "" {
			reason = "declined"
			c.result = phone.ResultDeclined
		}
		m.respondFinal(c, 603, "Decline", wg)
	default:
		if reason == "" {
			reason = "hung up"
		}
		var dlg interface {
			inDialog
			Bye(context.Context) error
		}
		var acked chan struct{} // closed when the caller has acknowledged our 200 OK
		switch {
		case c.cdlg != nil:
			dlg = c.cdlg
		case c.sdlg != nil:
			dlg = c.sdlg
			// RFC 3261 §15: the callee sends its BYE once the caller has acknowledged the 200
			// OK (or it gave up waiting). A hang-up right after answering would otherwise race
			// the 200 OK itself: sipgo refuses a BYE before the 2xx is out, and the caller
			// stayed in the call. Shutting down (wg set), the manager goroutine no longer reads
			// ACKs and the hang-up is bounded: BYE at once.
			if wg == nil {
				acked = c.inviteDone
			}
		}
		if dlg != nil {
			if wg != nil {
				wg.Add(1)
			}
			ob := m.credentials(c)
			go func() {
				if wg != nil {
					defer wg.Done()
				}
				if acked != nil {
					t := time.NewTimer(64 * sip.T1) // the longest the 200 OK is retransmitted
					select {
					case <-acked:
					case <-t.C:
					case <-m.done: // the manager stopped: no ACK will be read now
					}
					t.Stop()
				}
				byeAuthed(dlg, ob, m.log)
			}()
		}
	}
	m.endCall(c, reason)
}

// byeDialog sends BYE and waits (bounded) for the answer.
func byeDialog(dlg interface{ Bye(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = dlg.Bye(ctx)
}

const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"
