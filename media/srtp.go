package media

import (
	crand "crypto/rand"
	"fmt"
	"strings"

	"github.com/pion/srtp/v3"
)

// SRTP (RFC 3711, https://www.rfc-editor.org/rfc/rfc3711) protects a session's RTP and RTCP when
// the call manager negotiated keys for it (SDES, RFC 4568): every packet sent is encrypted and
// authenticated with our master key, every packet received must authenticate with the far end's
// before it is even parsed. pion/srtp does the cryptography and the key derivation; this file
// maps the SDES suite names to its profiles and keeps one context per goroutine, since a
// srtp.Context is not safe for concurrent use.

// SRTP suite names as SDES writes them (RFC 4568 §6.2, RFC 7714 §12 for AEAD_AES_128_GCM).
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
	SuiteAEADAES128GCM = "AEAD_AES_128_GCM"
)

// SRTPSuites lists the suites trayphone speaks, in the order it prefers them.
var SRTPSuites = []string{SuiteAES128SHA1_80, SuiteAES128SHA1_32, SuiteAEADAES128GCM}

// srtpProfile maps an SDES suite name to pion's protection profile.
func srtpProfile(suite string) (srtp.ProtectionProfile, bool) {
	switch strings.ToUpper(suite) {
	case SuiteAES128SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, true
	case SuiteAES128SHA1_32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, true
	case SuiteAEADAES128GCM:
		return srtp.ProtectionProfileAeadAes128Gcm, true
	}
	return 0, false
}

// SRTPKeyLen returns the length of a suite's master key plus master salt, the key an SDES
// inline: parameter carries (RFC 4568 §6.1), or false for a suite trayphone does not speak.
func SRTPKeyLen(suite string) (int, bool) {
	p, ok := srtpProfile(suite)
	if !ok {
		return 0, false
	}
	k, err1 := p.KeyLen()
	s, err2 := p.SaltLen()
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return k + s, true
}

// NewSRTPKey returns a fresh master key and salt for suite from crypto/rand.
func NewSRTPKey(suite string) ([]byte, error) {
	n, ok := SRTPKeyLen(suite)
	if !ok {
		return nil, fmt.Errorf("srtp: unknown suite %q", suite)
	}
	b := make([]byte, n)
	_, _ = crand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return b, nil
}

// SRTPConfig is the keying of an SRTP session: the suite both sides agreed on, our master key
// and salt (what we send with) and the far end's (what it sends with). Its String never shows
// a key.
type SRTPConfig struct {
	Suite     string
	LocalKey  []byte
	RemoteKey []byte
	// RTCPLocalKey and RTCPRemoteKey, if set, key SRTCP instead of LocalKey and RemoteKey:
	// DTLS-SRTP on a separate RTCP port has its own association and keys (RFC 5764 §4.1).
	RTCPLocalKey, RTCPRemoteKey []byte
}

// String names the suite only: keys stay out of logs.
func (c *SRTPConfig) String() string { return "srtp " + c.Suite }

// srtpContexts are a session's four SRTP contexts, one per goroutine that uses it.
type srtpContexts struct {
	sendRTP, recvRTP   *srtp.Context // send and receive goroutines
	sendRTCP, recvRTCP *srtp.Context // RTCP send and receive goroutines
	overhead           int           // bytes SRTP adds to an RTP packet
}

// srtpMaxOverhead is the most SRTP adds to an RTP packet: a 16-byte GCM tag or a 10-byte HMAC.
const srtpMaxOverhead = 16

// srtpReplayWindow is how far back an old packet may come and still be taken once (RFC 3711
// §3.3.2 asks for at least 64).
const srtpReplayWindow = 128

func newSRTPContexts(c *SRTPConfig) (*srtpContexts, error) {
	p, ok := srtpProfile(c.Suite)
	if !ok {
		return nil, fmt.Errorf("srtp: unknown suite %q", c.Suite)
	}
	n, _ := SRTPKeyLen(c.Suite)
	rtcpLocal, rtcpRemote := c.LocalKey, c.RemoteKey
	if c.RTCPLocalKey != nil || c.RTCPRemoteKey != nil {
		rtcpLocal, rtcpRemote = c.RTCPLocalKey, c.RTCPRemoteKey
	}
	if len(c.LocalKey) != n || len(c.RemoteKey) != n || len(rtcpLocal) != n || len(rtcpRemote) != n {
		return nil, fmt.Errorf("srtp: %s needs keys of %d bytes", c.Suite, n)
	}
	kl, _ := p.KeyLen()
	mk := func(key []byte, opts ...srtp.ContextOption) (*srtp.Context, error) {
		return srtp.CreateContext(key[:kl], key[kl:], p, opts...)
	}
	var (
		x   srtpContexts
		err error
	)
	if x.sendRTP, err = mk(c.LocalKey); err != nil {
		return nil, fmt.Errorf("srtp: %w", err)
	}
	if x.sendRTCP, err = mk(rtcpLocal); err != nil {
		return nil, fmt.Errorf("srtp: %w", err)
	}
	if x.recvRTP, err = mk(c.RemoteKey, srtp.SRTPReplayProtection(srtpReplayWindow)); err != nil {
		return nil, fmt.Errorf("srtp: %w", err)
	}
	if x.recvRTCP, err = mk(rtcpRemote, srtp.SRTCPReplayProtection(srtpReplayWindow)); err != nil {
		return nil, fmt.Errorf("srtp: %w", err)
	}
	tag, _ := p.AuthTagRTPLen()
	aead, _ := p.AEADAuthTagLen()
	x.overhead = tag + aead
	return &x, nil
}
