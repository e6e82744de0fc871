package sdp

import (
	"errors"
	"fmt"
)

var (
	// ErrNoAudio means the description has no audio stream with a non-zero port.
	ErrNoAudio = errors.New("sdp: no audio stream")
	// ErrNoCommonCodec means the offer has no audio codec (or no transport) we support; SIP
	// answers such an offer with 488 Not Acceptable Here (RFC 3261 §13.3.1.1). Negotiation errors
	// wrap it: test with errors.Is.
	ErrNoCommonCodec = errors.New("sdp: no common codec")
)

// NegotiationError says why an offer could not be answered. It wraps ErrNoCommonCodec.
type NegotiationError struct {
	// Reason is what was wrong, e.g. "offered PCMU/8000 G729/8000".
	Reason string
}

// Error returns "sdp: no common codec: " and the reason.
func (e *NegotiationError) Error() string { return ErrNoCommonCodec.Error() + ": " + e.Reason }

// Unwrap returns ErrNoCommonCodec.
func (e *NegotiationError) Unwrap() error { return ErrNoCommonCodec }

// StatusCode is the SIP response code for a rejected offer: 488 Not Acceptable Here.
func (e *NegotiationError) StatusCode() int { return 488 }

// lineError builds an error that points at a line of the description, counting from 1.
func lineError(line int, format string, args ...any) error {
	return fmt.Errorf("sdp: line %d: %s", line, fmt.Sprintf(format, args...))
}
