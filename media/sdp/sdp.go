// Package sdp builds, parses and negotiates the audio part of session descriptions: SDP (RFC 4566,
// https://www.rfc-editor.org/rfc/rfc4566) in the offer/answer model (RFC 3264,
// https://www.rfc-editor.org/rfc/rfc3264). It is pure: no sockets, no SIP, no state; the call
// manager hands it bytes and addresses and gets bytes and codecs back. pion/sdp does the
// structural parsing and the serialization underneath.
package sdp

import (
	"net/netip"
	"strconv"
)

// Direction is the media direction attribute of a stream, RFC 4566 §6
// (https://www.rfc-editor.org/rfc/rfc4566#section-6) and RFC 3264 §5.1.
type Direction int

// Directions. Unknown is the zero value; Parse never returns it (a stream without a direction
// attribute is sendrecv, RFC 3264 §5.1) and the builders treat it as SendRecv.
const (
	Unknown Direction = iota
	SendRecv
	SendOnly
	RecvOnly
	Inactive
)

// String returns the SDP attribute name ("sendrecv", "sendonly", "recvonly", "inactive"), or
// "unknown".
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	default:
		return "unknown"
	}
}

// Reverse returns the direction as the other side sees it: sendonly and recvonly swap, the others
// stay.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	default:
		return d
	}
}

// sends and receives split a direction into its two halves; Unknown counts as sendrecv.
func (d Direction) sends() bool    { return d != RecvOnly && d != Inactive }
func (d Direction) receives() bool { return d != SendOnly && d != Inactive }

// directionOf combines the two halves back into a direction.
func directionOf(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	default:
		return Inactive
	}
}

// parseDirection recognizes a direction attribute name.
func parseDirection(s string) (Direction, bool) {
	switch s {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return Unknown, false
}

// Format is one RTP payload format of an audio stream: an "m=" format with its "a=rtpmap" and
// "a=fmtp" (RFC 4566 §6).
type Format struct {
	// PayloadType is the RTP payload type, 0–127.
	PayloadType uint8
	// Name is the encoding name, e.g. "PCMU", "opus", "telephone-event".
	Name string
	// ClockRate is the RTP clock rate in Hz.
	ClockRate int
	// Channels is the number of audio channels; Parse sets 1 when the rtpmap leaves it out.
	Channels int
	// Fmtp holds the format parameters, e.g. "0-16" for telephone-event, or "".
	Fmtp string
}

// rtpmap returns the value of the format's a=rtpmap attribute, RFC 4566 §6.
func (f Format) rtpmap() string {
	v := strconv.Itoa(int(f.PayloadType)) + " " + f.Name + "/" + strconv.Itoa(f.ClockRate)
	if f.Channels > 1 {
		v += "/" + strconv.Itoa(f.Channels)
	}
	return v
}

// Media is the audio stream of a session description.
type Media struct {
	// Addr and Port are where the stream's RTP goes. An unspecified Addr (0.0.0.0) is the old
	// RFC 2543 way of putting a call on hold.
	Addr netip.Addr
	Port int
	// Proto is the transport protocol of the m= line, e.g. "RTP/AVP".
	Proto string
	// Formats lists the payload formats in m= order, which is the sender's preference order,
	// telephone-event included. Dynamic payload types without an rtpmap are left out.
	Formats []Format
	// Direction is the stream's direction as its sender wrote it, SendRecv when absent.
	Direction Direction
	// PTime is the packet time in milliseconds from a=ptime, or 0.
	PTime int
	// TelephoneEvent is the first RFC 4733 telephone-event format of Formats, or nil.
	TelephoneEvent *Format
	// Crypto are the stream's SDES a=crypto attributes (RFC 4568) in the order written, those
	// ParseCrypto accepts; the others are left out.
	Crypto []Crypto
	// Fingerprints are the certificate digests of DTLS-SRTP (a=fingerprint, RFC 8122 §5) of the
	// stream, or else of the session, with a hash function ParseFingerprint accepts.
	Fingerprints []Fingerprint
	// Setup is the stream's (or else the session's) a=setup, SetupUnknown when absent.
	Setup Setup
}

// Session is a parsed session description: its origin and its audio stream.
type Session struct {
	// Username, SessionID and Version are the o= fields, RFC 4566 §5.2. A changed Version in a
	// re-offer means the description changed (RFC 3264 §8).
	Username  string
	SessionID uint64
	Version   uint64
	// Audio is the first audio stream with a non-zero port.
	Audio Media

	// streams are all m= lines of the description and audio the index of Audio among them: an
	// answer has as many m= lines as its offer (RFC 3264 §6).
	streams []stream
	audio   int
}

// stream is one m= line: enough of it to reject it in an answer.
type stream struct {
	media   string
	proto   string
	formats []string
}

// Username is the o= username of the descriptions trayphone writes.
const Username = "trayphone"
