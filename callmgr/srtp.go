package callmgr

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"trayphone/media"
	"trayphone/media/sdp"
)

// Media encryption with SDES-SRTP (RFC 4568 keys in the SDP, RFC 3711 on the wire).
//
// The mode is [sip] media_encryption, or the account's own: "off" offers and accepts plain RTP
// only (an RTP/SAVP offer gets 488); "optional" offers RTP/AVP with a=crypto lines, the
// best-effort SRTP many phones do, so that a far end with SRTP encrypts and one without still
// talks, and answers an offer with keys with keys; "required" offers RTP/SAVP and refuses (488)
// an offer, or ends a call whose answer, without keys. SDES keys travel in the SDP in the clear,
// so they are only offered or answered over TLS signalling unless [sip] sdes_over_udp allows it
// (with a warning in the log).

// Media encryption modes.
const (
	EncryptionOff      = "off"
	EncryptionOptional = "optional"
	EncryptionRequired = "required"
)

// Encryption values of a call snapshot (phone.CallInfo.Encryption).
const (
	encNone = "none"
	encSRTP = "srtp"
)

// errNeedsEncryption is why a call without keys is refused when encryption is required.
var errNeedsEncryption = errors.New("media_encryption is required and the far end does not encrypt")

// encryptionMode is the media encryption mode of c: its account's, else the phone's.
func (m *Manager) encryptionMode(c *call) string {
	if c.echoLeg || c.remote == EchoTarget {
		return EncryptionOff // the echo test never leaves this computer
	}
	mode := m.cfg.MediaEncryption
	if v := m.cfg.AccountEncryption[c.account]; c.account != "" && v != "" {
		mode = v
	}
	switch mode {
	case EncryptionOff, EncryptionRequired:
		return mode
	}
	return EncryptionOptional
}

// srtpSuites are the SRTP suites calls offer and accept, in our order of preference.
func (m *Manager) srtpSuites() []string {
	if len(m.cfg.SRTPSuites) > 0 {
		return m.cfg.SRTPSuites
	}
	return media.SRTPSuites
}

// sdesAllowed reports whether c may carry SDES keys: encryption is not off and the signalling
// is TLS, or the user allowed keys over plain signalling.
func (m *Manager) sdesAllowed(c *call) bool {
	return m.encryptionMode(c) != EncryptionOff && (c.sigTLS || m.cfg.SDESOverUDP)
}

// warnPlainSDES logs, once per call, that its keys go over signalling anyone on the path can
// read.
func (m *Manager) warnPlainSDES(c *call) {
	if c.sigTLS || c.sdesWarned {
		return
	}
	c.sdesWarned = true
	m.log.Warn("SRTP keys sent over signalling that is not TLS (sdes_over_udp): anyone who sees the SIP messages can decrypt the call's audio",
		"call", c.id)
}

// offerCrypto returns the a=crypto lines of our offer and whether it must be RTP/SAVP, or an
// error when encryption is required but cannot be offered. Keys are made once per call and kept
// for re-offers; once a suite is in use, only it is offered again.
func (m *Manager) offerCrypto(c *call) ([]sdp.Crypto, bool, error) {
	mode := m.encryptionMode(c)
	dtls := m.offerDTLS(c) != nil // dtls.go: the fingerprint goes with the keys, or alone
	if !m.sdesAllowed(c) || c.dtls != nil {
		if (mode == EncryptionRequired || c.secureOffer) && !dtls {
			return nil, false, errors.New("media_encryption is required, but the call's signalling is not TLS (set transport = \"tls\" or sdes_over_udp = true) and DTLS-SRTP cannot be used for it (its audio goes through a TURN relay)")
		}
		return nil, mode == EncryptionRequired || c.secureOffer, nil
	}
	if c.srtp != nil {
		return []sdp.Crypto{{Tag: c.srtpTag, Suite: c.srtp.Suite, Key: c.srtp.LocalKey}}, mode == EncryptionRequired, nil
	}
	if c.offeredKeys == nil {
		for i, suite := range m.srtpSuites() {
			key, err := media.NewSRTPKey(suite)
			if err != nil {
				return nil, false, err
			}
			c.offeredKeys = append(c.offeredKeys, sdp.Crypto{Tag: i + 1, Suite: suite, Key: key})
		}
	}
	m.warnPlainSDES(c)
	return c.offeredKeys, mode == EncryptionRequired || c.secureOffer, nil
}

// checkOffer says whether an offer can be answered under c's encryption mode: an error (488)
// when it needs keys we cannot give or lacks keys we need. It returns the offer's line we would
// accept, or nil for plain RTP.
func (m *Manager) checkOffer(c *call, offer *sdp.Session) (*sdp.Crypto, error) {
	a := offer.Audio
	if m.pickDTLS(c, offer) != nil {
		return nil, nil // dtls.go: DTLS-SRTP, preferred over SDES keys offered with it
	}
	if m.sdesAllowed(c) {
		if cr, ok := sdp.PickCrypto(a.Crypto, m.srtpSuites(), media.SRTPKeyLen); ok {
			return &cr, nil
		}
	}
	switch {
	case sdp.SecureRTP(a.Proto) && m.encryptionMode(c) == EncryptionOff:
		return nil, fmt.Errorf("%s offered only encrypted audio (%s) and media_encryption is off", c.remote, a.Proto)
	case sdp.DTLSRTP(a.Proto):
		return nil, fmt.Errorf("%s offered DTLS-SRTP (%s) without a fingerprint and role trayphone accepts", c.remote, a.Proto)
	case sdp.SecureRTP(a.Proto) && len(a.Crypto) > 0 && !c.sigTLS && !m.cfg.SDESOverUDP:
		return nil, fmt.Errorf("%s offered encrypted audio with its keys over signalling that is not TLS (sdes_over_udp is off)", c.remote)
	case sdp.SecureRTP(a.Proto):
		return nil, fmt.Errorf("%s offered encrypted audio (%s) with no keys for a suite trayphone speaks", c.remote, a.Proto)
	case m.encryptionMode(c) == EncryptionRequired:
		return nil, fmt.Errorf("%s: %w", c.remote, errNeedsEncryption)
	}
	return nil, nil
}

// answerCrypto decides the keys of our answer to offer: it sets c.srtp (nil for plain RTP) and
// returns the a=crypto line to answer with.
func (m *Manager) answerCrypto(c *call, offer *sdp.Session) (*sdp.Crypto, error) {
	pick, err := m.checkOffer(c, offer)
	if err != nil {
		return nil, err
	}
	if c.dtls != nil && c.mediaUnderway() && m.pickDTLS(c, offer) == nil {
		return nil, fmt.Errorf("%s offered to stop DTLS-SRTP mid-call, which trayphone does not do", c.remote)
	}
	if pick == nil {
		if c.sess != nil && c.srtp != nil && c.dtls == nil {
			return nil, fmt.Errorf("%s offered to stop encrypting mid-call, which trayphone does not do", c.remote)
		}
		return nil, nil
	}
	var local []byte
	if c.srtp != nil && strings.EqualFold(c.srtp.Suite, pick.Suite) {
		local = c.srtp.LocalKey // a re-offer: our key stays
	} else {
		if local, err = media.NewSRTPKey(pick.Suite); err != nil {
			return nil, err
		}
	}
	if err := m.useKeys(c, pick.Suite, pick.Tag, local, pick.Key); err != nil {
		return nil, err
	}
	m.warnPlainSDES(c)
	return &sdp.Crypto{Tag: pick.Tag, Suite: pick.Suite, Key: local}, nil
}

// answeredCrypto takes the keys of the far end's answer to our offer.
func (m *Manager) answeredCrypto(c *call, ans *sdp.Session) error {
	a := ans.Audio
	if ok, err := m.answeredDTLS(c, ans); ok || err != nil { // dtls.go
		return err
	}
	if len(c.offeredKeys) > 0 || c.srtp != nil {
		offered := c.offeredKeys
		if c.srtp != nil {
			offered = []sdp.Crypto{{Tag: c.srtpTag, Suite: c.srtp.Suite, Key: c.srtp.LocalKey}}
		}
		for _, got := range a.Crypto {
			for _, o := range offered {
				n, _ := media.SRTPKeyLen(o.Suite)
				if got.Tag == o.Tag && strings.EqualFold(got.Suite, o.Suite) && len(got.Key) == n {
					return m.useKeys(c, o.Suite, o.Tag, o.Key, got.Key)
				}
			}
		}
		if len(a.Crypto) > 0 || sdp.SecureRTP(a.Proto) {
			return fmt.Errorf("%s answered with encryption keys that do not match what we offered", c.remote)
		}
	}
	if m.encryptionMode(c) == EncryptionRequired {
		return fmt.Errorf("%s: %w", c.remote, errNeedsEncryption)
	}
	if c.sess != nil && c.srtp != nil {
		return fmt.Errorf("%s stopped encrypting mid-call, which trayphone does not do", c.remote)
	}
	c.srtp = nil
	return nil
}

// useKeys records the call's negotiated SRTP keys. A running session keeps its keys: a far end
// that changes them mid-call is refused (re-keying a session is not supported yet).
func (m *Manager) useKeys(c *call, suite string, tag int, local, remote []byte) error {
	if c.sess != nil {
		if c.srtp == nil || !strings.EqualFold(c.srtp.Suite, suite) || !bytes.Equal(c.srtp.RemoteKey, remote) ||
			!bytes.Equal(c.srtp.LocalKey, local) {
			return fmt.Errorf("%s changed the call's encryption keys mid-call, which trayphone does not support yet", c.remote)
		}
		return nil
	}
	c.srtp = &media.SRTPConfig{Suite: suite, LocalKey: local, RemoteKey: remote}
	c.srtpTag = tag
	return nil
}

// encryption is what a snapshot of c says about its media encryption.
func (c *call) encryption() string {
	switch {
	case c.dtls != nil:
		return encDTLS
	case c.srtp != nil:
		return encSRTP
	case c.encPlanned != "":
		return c.encPlanned
	}
	return encNone
}
