package sdp

import (
	"strconv"
	"strings"
)

// Negotiate picks the codec to answer offer with, RFC 3264 §6.1: the first format of the offer
// (the offerer's preference) whose encoding name and clock rate match one of supported, compared
// case-insensitively. The returned format is ours (our name, channels and fmtp) under the offer's
// payload type, since a dynamic payload type means what the offer says it means. te is the
// offer's telephone-event format at the chosen codec's clock rate (RFC 4733 §7.1.1), with our
// fmtp, or nil. The error wraps ErrNoCommonCodec when there is nothing in common or the transport
// is neither RTP nor SRTP. Whether the keys of an SRTP offer suit us is the caller's to decide
// (PickCrypto).
func Negotiate(offer *Session, supported []Format) (answerFormat Format, te *Format, err error) {
	a := offer.Audio
	if !plainRTP(a.Proto) && !SecureRTP(a.Proto) {
		return Format{}, nil, &NegotiationError{Reason: "transport " + a.Proto + " is not RTP/AVP or RTP/SAVP"}
	}
	found := false
	for _, f := range a.Formats {
		if isTelephoneEvent(f) || isComfortNoise(f) {
			continue
		}
		for _, s := range supported {
			if !isTelephoneEvent(s) && !isComfortNoise(s) && strings.EqualFold(f.Name, s.Name) && f.ClockRate == s.ClockRate {
				answerFormat, found = s, true
				answerFormat.PayloadType = f.PayloadType
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		return Format{}, nil, &NegotiationError{Reason: "offered " + describe(a.Formats)}
	}
	for _, f := range a.Formats {
		if isTelephoneEvent(f) && f.ClockRate == answerFormat.ClockRate {
			t := f
			t.Name, t.Channels, t.Fmtp = "telephone-event", 1, "0-16"
			te = &t
			break
		}
	}
	return answerFormat, te, nil
}

// isTelephoneEvent reports whether f carries RFC 4733 events rather than audio.
func isTelephoneEvent(f Format) bool { return strings.EqualFold(f.Name, "telephone-event") }

// isComfortNoise reports whether f is RFC 3389 comfort noise rather than a codec.
func isComfortNoise(f Format) bool { return strings.EqualFold(f.Name, "CN") }

// describe lists formats for an error message: "PT name/rate" each.
func describe(formats []Format) string {
	if len(formats) == 0 {
		return "nothing"
	}
	parts := make([]string, len(formats))
	for i, f := range formats {
		parts[i] = strconv.Itoa(int(f.PayloadType)) + " " + f.Name + "/" + strconv.Itoa(f.ClockRate)
	}
	return strings.Join(parts, ", ")
}

// PickCrypto returns the first of offered (the offerer's preference, RFC 4568 §7.1.1) whose suite
// is one of suites and whose key has the suite's length (keyLen), or false.
func PickCrypto(offered []Crypto, suites []string, keyLen func(suite string) (int, bool)) (Crypto, bool) {
	for _, c := range offered {
		for _, s := range suites {
			if !strings.EqualFold(c.Suite, s) {
				continue
			}
			if n, ok := keyLen(s); ok && n == len(c.Key) {
				c.Suite = s
				return c, true
			}
		}
	}
	return Crypto{}, false
}
