package callmgr

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"trayphone/internal/phone"
	"trayphone/media"
	"trayphone/media/sdp"
)

// openRTP binds the call's RTP/RTCP sockets on the SIP listening address family. Its caller then
// finds their public or relayed address for SDP (natOpen, nat.go).
func (m *Manager) openRTP(c *call) error {
	if c.rtp != nil {
		return nil
	}
	bind := netip.Addr{} // every address: the advertised one may be a public address later
	rtp, rtcp, err := media.ListenRTP(bind, m.cfg.RTPPortMin, m.cfg.RTPPortMax)
	if err != nil {
		return fmt.Errorf("no free port for audio: %w", err)
	}
	c.rtp, c.rtcp = rtp, rtcp
	return nil
}

// closeRTP releases sockets that never made it into a media session.
func (m *Manager) closeRTP(c *call) {
	m.natForget(c)
	if c.rtp != nil && c.sess == nil {
		c.rtp.Close()
	}
	if c.rtcp != nil {
		c.rtcp.Close()
	}
	c.rtp, c.rtcp = nil, nil
}

// supportedFormats lists our codecs in preference order, as SDP formats.
func (m *Manager) supportedFormats() []sdp.Format {
	out := make([]sdp.Format, 0, len(m.cfg.Codecs))
	for _, c := range m.cfg.Codecs {
		ch := c.Channels
		if ch == 0 {
			ch = 1
		}
		out = append(out, sdp.Format{PayloadType: c.PayloadType, Name: c.Name, ClockRate: c.ClockRate, Channels: ch, Fmtp: c.Fmtp})
	}
	return out
}

// localDirection is the SDP direction we offer given the hold flags.
func localDirection(c *call) sdp.Direction {
	switch {
	case c.localHold && c.remHold:
		return sdp.Inactive
	case c.localHold:
		return sdp.SendOnly
	case c.remHold:
		return sdp.RecvOnly
	}
	return sdp.SendRecv
}

// mediaDirection maps the hold flags to what the media session does.
func mediaDirection(c *call) media.Direction {
	switch {
	case c.localHold && c.remHold:
		return media.Inactive
	case c.localHold:
		return media.SendOnly
	case c.remHold:
		return media.RecvOnly
	}
	return media.SendRecv
}

// buildOffer makes our SDP offer (initial INVITE or re-INVITE) with a new session version.
func (m *Manager) buildOffer(c *call) ([]byte, error) {
	c.sdpVersion++
	formats := m.supportedFormats()
	if c.codec.Name != "" {
		// Re-offers keep the codec in use first so the far end has no reason to switch.
		formats = preferFormat(formats, c.codec.Name)
	}
	addr, port := m.sdpAddr(c)
	keys, secure, err := m.offerCrypto(c) // srtp.go
	if err != nil {
		return nil, err
	}
	return sdp.Offer(sdp.OfferParams{
		Addr:      addr,
		Port:      port,
		Formats:   formats,
		Direction: localDirection(c),
		SessionID: c.sdpSession,
		Version:   c.sdpVersion,
		// We can always play comfort noise; whether we send it is the VAD setting.
		ComfortNoise: true,
		Crypto:       keys,
		Fingerprint:  m.offerDTLS(c), // dtls.go
		Secure:       secure,
	})
}

// answerOffer negotiates the far end's offer and returns our answer; it sets the codec, the
// remote media address and the far end's hold state.
func (m *Manager) answerOffer(c *call, offer *sdp.Session) ([]byte, error) {
	format, te, err := sdp.Negotiate(offer, m.supportedFormats())
	if err != nil {
		return nil, fmt.Errorf("%s offered no audio codec we support", c.remote)
	}
	crypto, err := m.answerCrypto(c, offer) // srtp.go
	if err != nil {
		return nil, err
	}
	var (
		fp    *sdp.Fingerprint
		setup sdp.Setup
	)
	if plan := m.pickDTLS(c, offer); plan != nil { // dtls.go
		if fp, setup, err = m.answerDTLS(c, plan); err != nil {
			return nil, err
		}
	}
	if err := m.useRemote(c, offer, format, te); err != nil {
		return nil, err
	}
	c.sdpVersion++
	addr, port := m.sdpAddr(c)
	body, _, err := sdp.Answer(offer, sdp.AnswerParams{
		Addr:         addr,
		Port:         port,
		Formats:      m.supportedFormats(),
		Direction:    localDirection(c),
		SessionID:    c.sdpSession,
		Version:      c.sdpVersion,
		ComfortNoise: true,
		Crypto:       crypto,
		Fingerprint:  fp,
		Setup:        setup,
	})
	return body, err
}

// applyAnswer takes the far end's SDP answer to our offer. When it starts the call's media (off
// the manager goroutine, after the DTLS-SRTP handshake for a call that uses it: dtls.go
// startMediaOrDTLS) started runs once the session is up, else at once; nil is none.
func (m *Manager) applyAnswer(c *call, body []byte, started func()) error {
	if len(body) == 0 {
		return fmt.Errorf("%s answered without an audio description (no SDP)", c.remote)
	}
	ans, err := sdp.Parse(body)
	if err != nil {
		return fmt.Errorf("%s answered with an unreadable audio description: %v", c.remote, err)
	}
	format, te, err := sdp.Negotiate(ans, m.supportedFormats())
	if err != nil {
		return fmt.Errorf("%s answered with no audio codec we offered", c.remote)
	}
	if err := m.answeredCrypto(c, ans); err != nil { // srtp.go
		return err
	}
	if err := m.useRemote(c, ans, format, te); err != nil {
		return err
	}
	if c.sess == nil {
		if !c.opening {
			// Off the manager goroutine: a far end's BYE while the sound card opens (or
			// the DTLS-SRTP handshake runs: dtls.go) is handled at once.
			m.startMediaOrDTLS(c, m.callDevice(c), started, func(err error) { m.hangup(c, err.Error(), nil) })
		}
		return nil
	}
	m.syncCallState(c)
	if started != nil {
		started()
	}
	return nil
}

// useRemote records what the far end's SDP says about its media.
func (m *Manager) useRemote(c *call, s *sdp.Session, format sdp.Format, te *sdp.Format) error {
	codec, ok := m.codecFor(format)
	if !ok {
		return fmt.Errorf("%s chose codec %s, which we did not offer", c.remote, format.Name)
	}
	if c.sess != nil && codec.Name != c.codec.Name {
		return fmt.Errorf("%s switched codec mid-call (%s to %s), which trayphone does not support yet", c.remote, c.codec.Name, codec.Name)
	}
	c.codec = codec
	c.tePT, c.teRecvPT, c.cnPT = 0, 0, 0
	if te != nil {
		c.tePT = te.PayloadType
	} else if e := s.Audio.TelephoneEvent; e != nil && e.PayloadType != format.PayloadType {
		// Events at another clock rate than the codec's (baresip's telephone-event/8000 next
		// to Opus): we do not send them (RFC 4733 §2.1; SIP INFO instead), but we take them.
		c.teRecvPT = e.PayloadType
	}
	if cn := sdp.ComfortNoise(s, format.ClockRate); cn != nil && cn.PayloadType != format.PayloadType && cn.PayloadType != c.tePT && cn.PayloadType != c.teRecvPT {
		c.cnPT = cn.PayloadType
	}
	a := s.Audio
	dir := a.Direction
	c.remHold = dir == sdp.SendOnly || dir == sdp.Inactive || (a.Addr.IsValid() && a.Addr.IsUnspecified())
	if a.Addr.IsValid() && !a.Addr.IsUnspecified() && a.Port > 0 {
		c.remoteRTP = netip.AddrPortFrom(a.Addr.Unmap(), uint16(a.Port))
	}
	return nil
}

// codecFor finds our codec for a negotiated format, with the far end's payload type.
func (m *Manager) codecFor(f sdp.Format) (media.Codec, bool) {
	for _, c := range m.cfg.Codecs {
		if strings.EqualFold(c.Name, f.Name) && c.ClockRate == f.ClockRate {
			c.PayloadType = f.PayloadType
			return c, true
		}
	}
	return media.Codec{}, false
}

// callDevice is the device call c plays on: the user's, or the answering machine's (for a call
// it took: screen.go).
func (m *Manager) callDevice(c *call) media.Device {
	if c.machine != nil {
		return c.machine
	}
	return m.cfg.Device
}

// startMediaWith opens dev for c off the manager goroutine (a sound card may take long to open)
// and, back on it, starts the call's RTP session with it (mediaOpened), then runs then. A device
// that cannot be opened does not drop the call: the user is told and the call runs silent. fail
// hears why the session could not start. A call that ended meanwhile gets nothing: the stream is
// closed.
func (m *Manager) startMediaWith(c *call, dev media.Device, then func(), fail func(error)) {
	c.opening = true
	rate, frame := c.codec.SampleRate, c.codec.FrameSamples()
	// Returns when dev.Open does.
	m.offLoop(func() (back, release func()) {
		stream, err := dev.Open(rate, frame)
		back = func() { m.mediaOpened(c, dev, stream, err, then, fail) }
		release = func() {
			if err == nil {
				_ = stream.Close()
			}
		}
		return back, release
	})
}

// mediaOpened starts c's RTP session with the stream startMediaWith opened (or, if err says it
// could not be opened, with silence). It runs on the manager goroutine. A call that ended
// meanwhile goes no further: the stream is closed and fail hears errCallGone.
func (m *Manager) mediaOpened(c *call, dev media.Device, stream media.Stream, err error, then func(), fail func(error)) {
	c.opening = false
	if c.state == phone.CallEnded || c.sess != nil || c.rtp == nil {
		if err == nil {
			_ = stream.Close()
		}
		if c.sess == nil {
			fail(errCallGone)
		}
		return
	}
	if err != nil {
		m.warn(c, fmt.Sprintf("could not open the audio device %s: %v; the call continues without sound", dev.Name(), err))
		stream, err = media.NewNull().Open(c.codec.SampleRate, c.codec.FrameSamples())
		if err != nil {
			fail(err)
			return
		}
	}
	if err := m.startSession(c, stream); err != nil {
		fail(err)
		return
	}
	if then != nil {
		then()
	}
}

// startSession starts c's RTP session on the open device stream.
func (m *Manager) startSession(c *call, stream media.Stream) error {
	if c.machine == nil {
		// The answering machine's device is not the user's: no fallback, tones or conference.
		stream = m.switchable(c, stream) // conference.go: device fallback and local conferences
	}
	c.tap = newVoiceTap(stream, c.codec.FrameSamples()) // voice.go: play, record-far
	stream = c.tap
	id := c.id
	conn, remote, err := m.mediaConn(c) // nat.go: the TURN relay's bridge, if any
	if err != nil {
		return fmt.Errorf("start audio through the TURN relay: %w", err)
	}
	rtcp := c.rtcp
	if conn != c.rtp && rtcp != nil {
		rtcp.Close() // RTCP does not go through the relay
		rtcp = nil
	}
	sess, err := media.NewSession(media.SessionConfig{
		Conn:                 conn,
		RTCPConn:             rtcp,
		Remote:               remote,
		Codec:                c.codec,
		TelephoneEventPT:     c.tePT,
		TelephoneEventRecvPT: c.teRecvPT,
		ComfortNoisePT:       c.cnPT,
		SRTP:                 c.srtp,
		DTLS:                 c.dtlsConn,
		NoVAD:                m.cfg.NoVAD,
		Realtime:             m.cfg.Realtime,
		SteadySend:           m.cfg.SteadySend,
		Stream:               stream,
		Direction:            mediaDirection(c),
		OnDTMF: func(d rune) {
			m.post(func() { m.onDTMF(id, d) })
		},
		OnSTUN: m.natSTUN(c, conn), // nat.go: STUN on the live socket after network changes
		Log:    m.log.With("call", c.id),
	}, m.cfg.SessionOptions...)
	c.rtcp = nil     // the session owns (or, failing, has closed) the RTCP socket too
	c.dtlsConn = nil // and the DTLS association
	if err != nil {
		if conn == c.rtp {
			c.rtp = nil // NewSession closed it
		}
		return fmt.Errorf("start audio: %w", err)
	}
	c.sess = sess
	if c.srtp != nil {
		m.log.Info("audio encrypted", "call", c.id, "keys", c.encryption(), "suite", c.srtp.Suite) // never the keys
	}
	sess.SetMuted(c.muted || c.localHold)
	sess.Start()
	c.mediaAt = m.clk.Now()
	m.natStarted(c) // nat.go: no-RTP warning, keepalive on idle media, RTP timeout
	return nil
}

// stopMedia ends the call's media session and releases its sockets.
func (m *Manager) stopMedia(c *call) {
	m.endVoice(c) // voice.go: what plays or records ends with the call
	if c.dtlsRun != nil {
		c.dtlsRun() // dtls.go: the handshake ends; its result is dropped
		c.dtlsRun = nil
	}
	c.dtlsConn.Close()
	c.dtlsConn = nil
	if c.sess != nil {
		_ = c.sess.Close()
		c.rtp = nil
	}
	m.leaveConference(c) // conference.go: its port closed with the session
	m.closeRTP(c)
}

// onDTMF publishes a received DTMF digit.
func (m *Manager) onDTMF(id string, d rune) {
	c := m.calls[id]
	if c == nil || c.hidden {
		return
	}
	snap := c.snapshot(m.clk.Now())
	m.hub.publish(phone.Event{Type: phone.EventDTMF, Time: m.clk.Now(), Call: &snap, Digit: string(d)})
}

func localPort(c *call) int {
	return c.rtp.LocalAddr().(*net.UDPAddr).Port
}

func preferFormat(fs []sdp.Format, name string) []sdp.Format {
	out := make([]sdp.Format, 0, len(fs))
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	for _, f := range fs {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	return out
}
