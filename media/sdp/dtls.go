package sdp

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// DTLS-SRTP in SDP (RFC 5763, https://www.rfc-editor.org/rfc/rfc5763): the far end's certificate
// is named by its digest in a=fingerprint (RFC 8122 §5), who opens the DTLS association by
// a=setup (RFC 4145 §4), and the transport is UDP/TLS/RTP/SAVP (RFC 5764 §8).

// Fingerprint is one a=fingerprint attribute (RFC 8122 §5): the hash function and the digest
// of the certificate its sender will present in the DTLS handshake.
type Fingerprint struct {
	// Hash is the hash function in lower case: "sha-256", "sha-384" or "sha-512".
	Hash string
	// Value is the digest.
	Value []byte
}

// fingerprintHashes are the hash functions ParseFingerprint accepts, with their digest length.
// SHA-1 and MD5 (also in RFC 8122's registry) are refused: a certificate could be forged to
// match them.
var fingerprintHashes = map[string]int{"sha-256": 32, "sha-384": 48, "sha-512": 64}

// String writes the attribute's value: "sha-256 4A:AD:...".
func (f Fingerprint) String() string {
	var b strings.Builder
	b.WriteString(f.Hash)
	b.WriteByte(' ')
	for i, c := range f.Value {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// ParseFingerprint reads the value of an a=fingerprint attribute (after "fingerprint:"):
//
//	<hash-func> SP <two upper-case hex digits> *(":" <two hex digits>)
//
// The hash function's name is case-insensitive (baresip writes "SHA-256"), lower-case hex
// digits are accepted, and the digest must have the hash function's length.
func ParseFingerprint(v string) (Fingerprint, error) {
	f := fields(v)
	if len(f) != 2 {
		return Fingerprint{}, fmt.Errorf("fingerprint: want hash function and digest, got %d fields", len(f))
	}
	hash := strings.ToLower(f[0])
	n, ok := fingerprintHashes[hash]
	if !ok {
		return Fingerprint{}, fmt.Errorf("fingerprint: hash function %q is not one trayphone accepts (sha-256, sha-384, sha-512)", clip(f[0]))
	}
	pairs := strings.Split(f[1], ":")
	if len(pairs) != n {
		return Fingerprint{}, fmt.Errorf("fingerprint: %s digest of %d bytes, want %d", hash, len(pairs), n)
	}
	val := make([]byte, n)
	for i, p := range pairs {
		if len(p) != 2 {
			return Fingerprint{}, fmt.Errorf("fingerprint: %q is not two hex digits", clip(p))
		}
		if _, err := hex.Decode(val[i:i+1], []byte(p)); err != nil {
			return Fingerprint{}, fmt.Errorf("fingerprint: %q is not two hex digits", clip(p))
		}
	}
	return Fingerprint{Hash: hash, Value: val}, nil
}

// Setup is the a=setup attribute (RFC 4145 §4): which side opens the DTLS association (RFC 5763
// §5). The zero value Unknown means there was none.
type Setup int

// Setup roles.
const (
	SetupUnknown Setup = iota
	// SetupActive: this side opens the association (is the DTLS client).
	SetupActive
	// SetupPassive: this side waits for the other to open it (is the DTLS server).
	SetupPassive
	// SetupActPass: either; only an offer says it, and the answerer picks (RFC 5763 §5).
	SetupActPass
	// SetupHoldConn: no association for now.
	SetupHoldConn
)

var setupNames = [...]string{"unknown", "active", "passive", "actpass", "holdconn"}

// String returns the attribute value ("active", ...), or "unknown".
func (s Setup) String() string {
	if s < 0 || int(s) >= len(setupNames) {
		return "unknown"
	}
	return setupNames[s]
}

// ParseSetup reads the value of an a=setup attribute (case-insensitive, RFC 4145 §4).
func ParseSetup(v string) (Setup, error) {
	v = strings.TrimSpace(v)
	for i, n := range setupNames[1:] {
		if strings.EqualFold(v, n) {
			return Setup(i + 1), nil
		}
	}
	return SetupUnknown, fmt.Errorf("setup: %q is not active, passive, actpass or holdconn", clip(v))
}

// AnswerSetup is the role an answerer takes for an offer's a=setup (RFC 5763 §5): active for
// actpass (the RFC's SHOULD: the answerer opens the association at once, without waiting for
// the answer to reach the offerer) or for passive, passive for active. An offer without a=setup
// is actpass here: RFC 4145 would make it active, but offers from DTLS-SRTP peers that leave
// it out (RFC 5763 §5 makes it mandatory) expect the answerer to choose. holdconn cannot be
// answered with an association, and false is returned.
func AnswerSetup(offer Setup) (Setup, bool) {
	switch offer {
	case SetupActive:
		return SetupPassive, true
	case SetupPassive, SetupActPass, SetupUnknown:
		return SetupActive, true
	}
	return SetupUnknown, false
}

// OffererIsClient reports whether the offerer, which said actpass, is the DTLS client given
// the answer's a=setup: yes when the answerer is passive. An answer without a=setup is active
// (RFC 4145 §4's default). An answer of actpass or holdconn is not allowed (RFC 5763 §5):
// false, false.
func OffererIsClient(answer Setup) (client, ok bool) {
	switch answer {
	case SetupPassive:
		return true, true
	case SetupActive, SetupUnknown:
		return false, true
	}
	return false, false
}

// DTLSRTP reports whether proto is DTLS-SRTP's transport, UDP/TLS/RTP/SAVP or
// UDP/TLS/RTP/SAVPF (RFC 5764 §8, RFC 5763 §5).
func DTLSRTP(proto string) bool {
	return strings.EqualFold(proto, "UDP/TLS/RTP/SAVP") || strings.EqualFold(proto, "UDP/TLS/RTP/SAVPF")
}

// readDTLS fills m's Fingerprints and Setup from the stream's attributes, or else from the
// session's (RFC 8122 §5 allows either level; baresip writes them at session level). Malformed
// attributes and hash functions trayphone does not accept are left out.
func readDTLS(m *Media, streamAttrs, sessAttrs []string) {
	for _, attrs := range [][]string{streamAttrs, sessAttrs} {
		for _, a := range attrs {
			name, val, _ := strings.Cut(a, ":")
			switch {
			case strings.EqualFold(name, "fingerprint"):
				if len(m.Fingerprints) < maxFingerprints {
					if fp, err := ParseFingerprint(val); err == nil {
						m.Fingerprints = append(m.Fingerprints, fp)
					}
				}
			case strings.EqualFold(name, "setup") && m.Setup == SetupUnknown:
				if s, err := ParseSetup(val); err == nil {
					m.Setup = s
				}
			}
		}
		if len(m.Fingerprints) > 0 {
			return // the stream's own attributes win over the session's
		}
	}
}

// maxFingerprints bounds how many a=fingerprint lines of one stream are kept: a certificate
// chain's worth (RFC 8122 §5 allows several).
const maxFingerprints = 4
