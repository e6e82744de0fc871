package callmgr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"fmt"
	"hash"

	"trayphone/internal/phone"
	"trayphone/media"
	"trayphone/media/sdp"
)

// Media encryption with DTLS-SRTP (RFC 5763/5764): the SDP carries our certificate's digest
// (a=fingerprint) and who opens the DTLS association (a=setup); the keys come out of a DTLS
// handshake on the call's own RTP and RTCP sockets (media.HandshakeDTLS), so they never travel
// in SIP messages. The far end is trusted to be whoever holds the certificate its SDP names: the
// fingerprint is only as trustworthy as the signalling that carried it (TLS, or none).
//
// Policy (with srtp.go's for SDES): every offer but under "off" carries our fingerprint with
// setup:actpass; "optional" offers RTP/AVP (best effort, next to SDES keys when they may be
// sent), "required" RTP/SAVP with SDES keys and the fingerprint, or UDP/TLS/RTP/SAVP with the
// fingerprint alone when SDES keys may not be sent. An offer or answer with a fingerprint we
// accept is DTLS-SRTP, preferred over SDES keys offered next to it: its keys are not visible
// to the proxies on the path. The handshake runs in a goroutine (the manager's loop never
// waits for it); the call's media session starts when it is done, and a handshake that fails or
// times out ends the call with the reason.

// encDTLS is the encryption of a DTLS-SRTP call in snapshots.
const encDTLS = "dtls-srtp"

// dtlsPlan is a call's negotiated DTLS-SRTP: our role and the far end's certificate digests.
type dtlsPlan struct {
	client bool
	remote []sdp.Fingerprint
}

// sameRemote reports whether fps names the same certificate as p.
func (p *dtlsPlan) sameRemote(fps []sdp.Fingerprint) bool {
	for _, a := range fps {
		for _, b := range p.remote {
			if a.Hash == b.Hash && bytes.Equal(a.Value, b.Value) {
				return true
			}
		}
	}
	return false
}

// mediaUnderway reports whether c's media has begun: its DTLS handshake runs, or is done and
// the device opens (startMediaWith, off the manager goroutine), or its session runs. A re-offer
// or re-answer from then on keeps the association and the keys it made.
func (c *call) mediaUnderway() bool {
	return c.sess != nil || c.dtlsRun != nil || c.dtlsConn != nil || c.opening
}

// dtlsIdentity is the phone's DTLS certificate and its SDP fingerprint.
type dtlsIdentity struct {
	cert tls.Certificate
	fp   sdp.Fingerprint
}

// newDTLSIdentity takes cfg's certificate, or makes one for this run.
func newDTLSIdentity(cert *tls.Certificate, m *Manager) (*dtlsIdentity, error) {
	var c tls.Certificate
	if cert != nil {
		c = *cert
	} else {
		var err error
		if c, err = media.NewDTLSCertificate(m.clk.Now()); err != nil {
			return nil, err
		}
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("callmgr: empty DTLS certificate")
	}
	sum := sha256.Sum256(c.Certificate[0])
	return &dtlsIdentity{cert: c, fp: sdp.Fingerprint{Hash: "sha-256", Value: sum[:]}}, nil
}

// Fingerprint is the SHA-256 fingerprint of the phone's DTLS certificate as the SDP writes it.
func (m *Manager) Fingerprint() string { return m.dtlsID.fp.String() }

// dtlsAllowed reports whether c may use DTLS-SRTP: encryption is not off and its media does not
// go through a TURN relay (the handshake runs on the call's own sockets).
func (m *Manager) dtlsAllowed(c *call) bool {
	if m.encryptionMode(c) == EncryptionOff || m.cfg.NoDTLS {
		return false
	}
	st := m.nat.calls[c]
	return st == nil || st.relay == nil
}

// offerDTLS is the fingerprint our offer carries (nil: none). A call already keyed by SDES
// keeps to its keys in re-offers.
func (m *Manager) offerDTLS(c *call) *sdp.Fingerprint {
	if !m.dtlsAllowed(c) || (c.srtp != nil && c.dtls == nil) || (c.noFingerprint && c.dtls == nil) {
		return nil
	}
	fp := m.dtlsID.fp
	return &fp
}

// pickDTLS returns the DTLS-SRTP plan for an offer we answer, or nil when the offer has no
// fingerprint we accept (or DTLS-SRTP may not be used).
func (m *Manager) pickDTLS(c *call, offer *sdp.Session) *dtlsPlan {
	a := offer.Audio
	if !m.dtlsAllowed(c) || len(a.Fingerprints) == 0 {
		return nil
	}
	ours, ok := sdp.AnswerSetup(a.Setup)
	if !ok {
		return nil
	}
	return &dtlsPlan{client: ours == sdp.SetupActive, remote: a.Fingerprints}
}

// answerDTLS records the DTLS-SRTP plan of our answer to an offer and returns our fingerprint
// and role for it. In a re-offer of a DTLS-SRTP call, the far end must name the same
// certificate: re-keying is not supported yet.
func (m *Manager) answerDTLS(c *call, plan *dtlsPlan) (*sdp.Fingerprint, sdp.Setup, error) {
	if c.mediaUnderway() {
		if c.dtls == nil {
			return nil, 0, fmt.Errorf("%s offered to switch to DTLS-SRTP mid-call, which trayphone does not support yet", c.remote)
		}
		if !c.dtls.sameRemote(plan.remote) {
			return nil, 0, fmt.Errorf("%s offered a new DTLS certificate mid-call (re-keying), which trayphone does not support yet", c.remote)
		}
		plan = c.dtls // the association stays as it is
	} else {
		c.dtls, c.srtp = plan, nil
	}
	setup := sdp.SetupPassive
	if plan.client {
		setup = sdp.SetupActive
	}
	fp := m.dtlsID.fp
	return &fp, setup, nil
}

// answeredDTLS takes a DTLS-SRTP answer to our offer; it returns false when the answer has no
// fingerprint (then SDES or plain RTP decide).
func (m *Manager) answeredDTLS(c *call, ans *sdp.Session) (bool, error) {
	a := ans.Audio
	if len(a.Fingerprints) == 0 || !m.dtlsAllowed(c) {
		if c.dtls != nil && c.mediaUnderway() {
			return true, fmt.Errorf("%s stopped DTLS-SRTP mid-call, which trayphone does not do", c.remote)
		}
		return false, nil
	}
	client, ok := sdp.OffererIsClient(a.Setup)
	if !ok {
		return true, fmt.Errorf("%s answered DTLS-SRTP with a=setup:%s, which an answer may not say (RFC 5763)", c.remote, a.Setup)
	}
	if c.mediaUnderway() {
		if c.dtls == nil {
			return true, fmt.Errorf("%s switched to DTLS-SRTP mid-call, which trayphone does not support yet", c.remote)
		}
		if !c.dtls.sameRemote(a.Fingerprints) {
			return true, fmt.Errorf("%s answered with a new DTLS certificate mid-call (re-keying), which trayphone does not support yet", c.remote)
		}
		return true, nil
	}
	c.dtls, c.srtp = &dtlsPlan{client: client, remote: a.Fingerprints}, nil
	return true, nil
}

// verifyFingerprint returns the check of the far end's DTLS certificate against the
// fingerprints of its SDP (RFC 5763 §5, RFC 8122 §5).
func verifyFingerprint(remote string, fps []sdp.Fingerprint) func(der []byte) error {
	return func(der []byte) error {
		for _, fp := range fps {
			var h hash.Hash
			switch fp.Hash {
			case "sha-256":
				h = sha256.New()
			case "sha-384":
				h = sha512.New384()
			case "sha-512":
				h = sha512.New()
			default:
				continue
			}
			h.Write(der)
			if bytes.Equal(h.Sum(nil), fp.Value) {
				return nil
			}
		}
		return fmt.Errorf("the DTLS certificate of %s does not match the fingerprint in its SDP (someone on the path may be intercepting the call)", remote)
	}
}

// verifyPeer is the check of c's handshake: a mismatch is reported to the manager at once
// (done, posted from pion's goroutine), before the far end hears of it (and perhaps hangs up
// first, which would hide the reason).
func (m *Manager) verifyPeer(c *call, done func(*media.DTLS, error)) func(der []byte) error {
	check := verifyFingerprint(c.remote, c.dtls.remote)
	return func(der []byte) error {
		err := check(der)
		if err != nil {
			m.post(func() { done(nil, err) })
		}
		return err
	}
}

// startMediaOrDTLS starts c's media on dev (startMediaWith: the device opens off the manager
// goroutine), first the DTLS-SRTP handshake when c uses it: then the media starts in onDTLSDone,
// and an outgoing call is answered only then (shown so once its audio runs, as a call without
// DTLS-SRTP). then and fail are startMediaWith's. A handshake already running is left to go on.
func (m *Manager) startMediaOrDTLS(c *call, dev media.Device, then func(), fail func(error)) {
	if c.dtls == nil || c.sess != nil {
		m.startMediaWith(c, dev, then, fail)
		return
	}
	if c.dtlsRun != nil {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	c.dtlsRun = cancel
	c.dtlsGen++
	gen, id := c.dtlsGen, c.id
	done := func(d *media.DTLS, err error) { m.onDTLSDone(id, gen, d, err, dev, then, fail) }
	cfg := media.DTLSConfig{
		Certificate: m.dtlsID.cert,
		Client:      c.dtls.client,
		VerifyPeer:  m.verifyPeer(c, done),
		Suites:      m.srtpSuites(),
		Remote:      c.remoteRTP,
		Timeout:     m.cfg.DTLSTimeout,
		Log:         m.log.With("call", c.id),
	}
	rtp, rtcp := c.rtp, c.rtcp
	m.log.Info("starting DTLS-SRTP handshake", "call", c.id, "client", cfg.Client, "remote", cfg.Remote)
	go func() { // ends with the handshake: done, failed, timed out, or the call ended (ctx)
		d, err := media.HandshakeDTLS(ctx, rtp, rtcp, cfg)
		if ctx.Err() != nil {
			d.Close() // the call ended or the manager stops: nobody takes the result
			return
		}
		m.post(func() { done(d, err) })
	}()
}

// onDTLSDone takes the outcome of c's handshake number gen: the media session starts with its
// keys on dev (startMediaWith, then then or fail), or the call ends with the reason.
func (m *Manager) onDTLSDone(id string, gen int, d *media.DTLS, err error, dev media.Device, then func(), fail func(error)) {
	c := m.calls[id]
	if c == nil || c.state == phone.CallEnded || c.dtlsRun == nil || c.dtlsGen != gen {
		d.Close() // the call ended meanwhile (stopMedia cancelled the handshake)
		return
	}
	c.dtlsRun()
	c.dtlsRun = nil
	m.log.Debug("DTLS-SRTP handshake ended", "call", c.id, "err", err)
	if err != nil {
		reason := fmt.Sprintf("encrypted audio with %s could not be set up: %v", c.remote, err)
		m.log.Warn("DTLS-SRTP failed: ending the call", "call", c.id, "err", err)
		if c.dir == phone.Outgoing && !c.answered() {
			// The far end answered (the handshake follows its 200 OK): hangup ends the dialog
			// with a BYE, not a CANCEL, which cannot end it. It was never shown answered
			// (answerAt stays zero).
			c.state = phone.CallActive
		}
		c.result = phone.ResultFailed
		m.hangup(c, reason, nil)
		return
	}
	c.srtp = d.SRTP()
	if !d.RTCP() && c.rtcp != nil {
		c.rtcp.Close()
		c.rtcp = nil
	}
	c.dtlsConn = d // the session takes it (startSession); stopMedia closes it if none does
	if c.dir == phone.Outgoing && !c.answered() {
		m.outgoingAnswered(c) // outgoing.go: a hang-up while the device opens sends BYE
	}
	m.startMediaWith(c, dev, func() {
		m.syncCallState(c) // a re-INVITE during the handshake may have held it
		if then != nil {
			then()
		} else {
			m.changed(c)
		}
	}, fail)
}
