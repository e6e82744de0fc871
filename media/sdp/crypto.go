package sdp

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Crypto is one a=crypto attribute of SDES (RFC 4568 §9.1,
// https://www.rfc-editor.org/rfc/rfc4568#section-9.1): an SRTP suite and the master key and salt
// its sender encrypts with. Its String never shows the key.
type Crypto struct {
	// Tag tells the offer's lines apart; the answer repeats the tag of the one it accepts.
	Tag int
	// Suite is the crypto-suite, e.g. "AES_CM_128_HMAC_SHA1_80".
	Suite string
	// Key is the master key followed by the master salt, decoded from "inline:".
	Key []byte
}

// String names the tag and suite only: keys stay out of logs.
func (c Crypto) String() string { return strconv.Itoa(c.Tag) + " " + c.Suite }

// attr writes the value of the attribute: "1 AES_CM_128_HMAC_SHA1_80 inline:KEY".
func (c Crypto) attr() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key)
}

// maxCryptoTag is the largest tag RFC 4568 §9.1 allows: 1*9DIGIT.
const maxCryptoTag = 999999999

// ParseCrypto reads the value of an a=crypto attribute (after "crypto:"):
//
//	<tag> <crypto-suite> inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>] [<session-params>]
//
// It accepts what trayphone can use and refuses the rest with the reason: one key (several keys
// need MKIs, which trayphone does not do), no MKI, a lifetime written as a number or 2^n, and of
// the session parameters (§6.3) only WSH (the replay window, which we keep our own of);
// UNENCRYPTED_SRTP and friends or a KDR are refused, since they would weaken or change the
// keying. The key's length is not checked here: it depends on the suite (see media.SRTPKeyLen).
func ParseCrypto(v string) (Crypto, error) {
	f := fields(v)
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("crypto: want tag, suite and key parameters, got %d fields", len(f))
	}
	if len(f[0]) > 9 {
		return Crypto{}, fmt.Errorf("crypto: tag %q is not 1-9 digits", clip(f[0]))
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > maxCryptoTag || strings.TrimLeft(f[0], "0123456789") != "" {
		return Crypto{}, fmt.Errorf("crypto: tag %q is not 1-9 digits", clip(f[0]))
	}
	suite := f[1]
	if !isToken(suite) {
		return Crypto{}, fmt.Errorf("crypto: suite %q is not a name", clip(suite))
	}
	kp := f[2]
	if strings.Contains(kp, ";") {
		return Crypto{}, fmt.Errorf("crypto: several keys (MKI) are not supported")
	}
	method, info, ok := strings.Cut(kp, ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return Crypto{}, fmt.Errorf("crypto: key method %q is not inline", clip(method))
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return Crypto{}, fmt.Errorf("crypto: too many key parameters")
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		// Some implementations leave out the padding.
		if key, err = base64.RawStdEncoding.DecodeString(parts[0]); err != nil {
			return Crypto{}, fmt.Errorf("crypto: key is not base64")
		}
	}
	if len(key) == 0 || len(key) > 64 {
		return Crypto{}, fmt.Errorf("crypto: key of %d bytes", len(key))
	}
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") {
			return Crypto{}, fmt.Errorf("crypto: MKI is not supported")
		}
		if !validLifetime(p) {
			return Crypto{}, fmt.Errorf("crypto: lifetime %q is not a number or 2^n", clip(p))
		}
	}
	for _, sp := range f[3:] {
		name, _, _ := strings.Cut(sp, "=")
		if !strings.EqualFold(name, "WSH") {
			return Crypto{}, fmt.Errorf("crypto: session parameter %q is not supported", clip(name))
		}
	}
	return Crypto{Tag: tag, Suite: suite, Key: key}, nil
}

// validLifetime reports whether s is an SRTP key lifetime (RFC 4568 §6.1): decimal digits or
// "2^" and digits.
func validLifetime(s string) bool {
	s = strings.TrimPrefix(s, "2^")
	if s == "" || len(s) > 20 {
		return false
	}
	return strings.TrimLeft(s, "0123456789") == ""
}

// isToken reports whether s is a crypto-suite name: letters, digits and '_'.
func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// SecureRTP reports whether proto is one of SRTP's transports: RTP/SAVP or RTP/SAVPF (RFC 3711
// §12, RFC 5124), or DTLS-SRTP's UDP/TLS/RTP/SAVP(F) (RFC 5764 §8).
func SecureRTP(proto string) bool {
	return strings.EqualFold(proto, "RTP/SAVP") || strings.EqualFold(proto, "RTP/SAVPF") || DTLSRTP(proto)
}
