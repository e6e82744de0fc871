package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// DefaultTelephoneEventPT is the payload type trayphone offers RFC 4733 telephone-events on.
const DefaultTelephoneEventPT = 101

// TelephoneEvent48kPT is the payload type trayphone offers telephone-event/48000 on, next to
// telephone-event/8000, when it offers a 48 kHz codec (Opus): RFC 4733 §2.1 wants the event
// clock to be the audio codec's.
const TelephoneEvent48kPT = 100

// ComfortNoisePT is the static payload type of comfort noise at 8000 Hz, RFC 3389 §4 and RFC 3551
// table 4.
const ComfortNoisePT = 13

// defaultPTime is the packet time trayphone sends and asks for, in milliseconds.
const defaultPTime = 20

// OfferParams describes the audio stream trayphone offers.
type OfferParams struct {
	// SessionID and Version go into o= (RFC 4566 §5.2). SessionID stays the same for the whole
	// call; Version must grow by one with every re-offer that changes something, e.g. hold and
	// resume (RFC 3264 §8).
	SessionID uint64
	Version   uint64
	// Addr and Port are where we receive RTP.
	Addr netip.Addr
	Port int
	// Formats are our codecs in preference order; telephone-event is added by Offer.
	Formats []Format
	// TelephoneEventPT is the payload type for telephone-event/8000; 0 means
	// DefaultTelephoneEventPT. telephone-event/48000 is added on TelephoneEvent48kPT when a
	// format runs at 48 kHz.
	TelephoneEventPT uint8
	// ComfortNoise adds CN/8000 (RFC 3389) on ComfortNoisePT when a format runs at 8 kHz
	// (G.711, G.722).
	ComfortNoise bool
	// PTime is the packet time in milliseconds; 0 means 20.
	PTime int
	// Direction is SendRecv for a normal call, SendOnly to put the call on hold, Inactive when
	// the other side holds too (RFC 3264 §8.4). Unknown means SendRecv.
	Direction Direction
	// Crypto are SDES keys to offer (RFC 4568), one a=crypto line each in this order.
	Crypto []Crypto
	// Fingerprint, if set, offers DTLS-SRTP (RFC 5763): our certificate's digest, with Setup
	// (SetupActPass in an initial offer; Unknown writes actpass).
	Fingerprint *Fingerprint
	Setup       Setup
	// Secure offers a secure transport, which a far end without SRTP must refuse: RTP/SAVP
	// when there are Crypto lines (with the fingerprint too, if any: a DTLS-SRTP far end takes
	// RTP/SAVP with a fingerprint), UDP/TLS/RTP/SAVP (RFC 5764 §8) with a fingerprint only.
	// Otherwise the offer is RTP/AVP, with Crypto and Fingerprint lines for the far ends that
	// take them (best-effort SRTP).
	Secure bool
}

// Offer writes an SDP offer (RFC 3264 §5) for one audio stream over RTP/AVP, e.g.
//
//	v=0
//	o=trayphone 3913 1 IN IP4 192.0.2.10
//	s=-
//	c=IN IP4 192.0.2.10
//	t=0 0
//	m=audio 40000 RTP/AVP 0 8 101
//	a=rtpmap:0 PCMU/8000
//	a=rtpmap:8 PCMA/8000
//	a=rtpmap:101 telephone-event/8000
//	a=fmtp:101 0-16
//	a=ptime:20
//	a=sendrecv
func Offer(o OfferParams) ([]byte, error) {
	if len(o.Formats) == 0 {
		return nil, errors.New("sdp: offer: no formats")
	}
	te := Format{PayloadType: o.TelephoneEventPT, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-16"}
	if te.PayloadType == 0 {
		te.PayloadType = DefaultTelephoneEventPT
	}
	formats := append(append([]Format(nil), o.Formats...), te)
	if hasRate(o.Formats, 48000) {
		formats = append(formats, Format{PayloadType: TelephoneEvent48kPT, Name: "telephone-event", ClockRate: 48000, Channels: 1, Fmtp: "0-16"})
	}
	if o.ComfortNoise && hasRate(o.Formats, 8000) {
		formats = append(formats, comfortNoise)
	}
	seen := map[uint8]bool{}
	for _, f := range formats {
		if seen[f.PayloadType] {
			return nil, fmt.Errorf("sdp: offer: payload type %d used twice", f.PayloadType)
		}
		seen[f.PayloadType] = true
	}
	proto := "RTP/AVP"
	switch {
	case o.Secure && len(o.Crypto) > 0:
		proto = "RTP/SAVP"
	case o.Secure && o.Fingerprint != nil:
		proto = "UDP/TLS/RTP/SAVP"
	case o.Secure:
		return nil, errors.New("sdp: offer: RTP/SAVP without keys or fingerprint")
	}
	setup := o.Setup
	if setup == SetupUnknown {
		setup = SetupActPass
	}
	return build(o.SessionID, o.Version, o.Addr, o.Port, formats, o.PTime, o.Direction, proto, o.Crypto,
		dtlsAttrs{o.Fingerprint, setup}, nil, 0)
}

// AnswerParams describes what trayphone can receive when it answers an offer.
type AnswerParams struct {
	// SessionID and Version go into o=, as for OfferParams.
	SessionID uint64
	Version   uint64
	// Addr and Port are where we receive RTP.
	Addr netip.Addr
	Port int
	// Formats are the codecs we support; the offer's order decides which one is chosen.
	Formats []Format
	// ComfortNoise answers CN (RFC 3389) when the offer has it at the chosen codec's clock rate.
	ComfortNoise bool
	// PTime is the packet time we ask for in milliseconds; 0 means 20.
	PTime int
	// Direction is what we want: SendRecv normally, SendOnly when we hold the call, Inactive when
	// we hold it and the offer holds it too. Unknown means SendRecv.
	Direction Direction
	// Crypto, if set, is the offer's a=crypto line we accept, with its tag and suite and our
	// key (RFC 4568 §7.1.2). An offer over RTP/SAVP(F) needs it or Fingerprint.
	Crypto *Crypto
	// Fingerprint, if set, answers DTLS-SRTP (RFC 5763 §5) with our certificate's digest and
	// Setup, our role (SetupActive or SetupPassive; see AnswerSetup).
	Fingerprint *Fingerprint
	Setup       Setup
}

// Answer negotiates offer (see Negotiate) and writes the answer (RFC 3264 §6): the same number of
// m= lines as the offer, every stream but the chosen audio one rejected with port 0, the chosen
// codec under the offer's payload type, telephone-event if offered, and the direction from
// RFC 3264 §6.1: we only send if the offer receives and we want to, we only receive if the offer
// sends and we want to. It returns the chosen codec; the telephone-event format, if any, is what
// Negotiate returns.
func Answer(offer *Session, local AnswerParams) ([]byte, Format, error) {
	chosen, te, err := Negotiate(offer, local.Formats)
	if err != nil {
		return nil, Format{}, err
	}
	formats := []Format{chosen}
	if te != nil {
		formats = append(formats, *te)
	}
	if cn := ComfortNoise(offer, chosen.ClockRate); cn != nil && local.ComfortNoise {
		formats = append(formats, *cn)
	}
	want := local.Direction
	dir := directionOf(offer.Audio.Direction.receives() && want.sends(), offer.Audio.Direction.sends() && want.receives())
	// The answer's transport is the offer's (RFC 3264 §6); plain RTP/AVPF is answered RTP/AVP, as
	// trayphone sends no RTCP feedback.
	proto := "RTP/AVP"
	var crypto []Crypto
	if SecureRTP(offer.Audio.Proto) {
		if local.Crypto == nil && local.Fingerprint == nil {
			return nil, Format{}, &NegotiationError{Reason: "transport " + offer.Audio.Proto + " without keys we accept"}
		}
		proto = strings.ToUpper(offer.Audio.Proto)
	}
	if local.Crypto != nil {
		crypto = []Crypto{*local.Crypto}
	}
	if local.Fingerprint != nil && local.Setup != SetupActive && local.Setup != SetupPassive {
		return nil, Format{}, fmt.Errorf("sdp: answer: setup %s, want active or passive", local.Setup)
	}
	b, err := build(local.SessionID, local.Version, local.Addr, local.Port, formats, local.PTime, dir, proto, crypto,
		dtlsAttrs{local.Fingerprint, local.Setup}, offer.streams, offer.audio)
	if err != nil {
		return nil, Format{}, err
	}
	return b, chosen, nil
}

// comfortNoise is the CN format trayphone offers.
var comfortNoise = Format{PayloadType: ComfortNoisePT, Name: "CN", ClockRate: 8000, Channels: 1}

// hasRate reports whether an audio format of fs runs at clockRate.
func hasRate(fs []Format, clockRate int) bool {
	for _, f := range fs {
		if f.ClockRate == clockRate && !isTelephoneEvent(f) && !isComfortNoise(f) {
			return true
		}
	}
	return false
}

// ComfortNoise returns the first comfort-noise format (RFC 3389 CN) of s's audio stream at
// clockRate, or nil: the payload type the session sends and accepts silence descriptors on.
func ComfortNoise(s *Session, clockRate int) *Format {
	for _, f := range s.Audio.Formats {
		if isComfortNoise(f) && f.ClockRate == clockRate {
			f.Name, f.Channels, f.Fmtp = "CN", 1, ""
			return &f
		}
	}
	return nil
}

// dtlsAttrs are the DTLS-SRTP attributes of a stream; a nil fingerprint writes none.
type dtlsAttrs struct {
	fp    *Fingerprint
	setup Setup
}

// build writes a description with one audio stream at index audio among others, which are all
// written rejected (port 0).
func build(sessionID, version uint64, addr netip.Addr, port int, formats []Format, ptime int, dir Direction,
	proto string, crypto []Crypto, dtls dtlsAttrs, others []stream, audio int) ([]byte, error) {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return nil, errors.New("sdp: no local address")
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("sdp: local port %d out of range", port)
	}
	if ptime <= 0 {
		ptime = defaultPTime
	}
	if dir == Unknown {
		dir = SendRecv
	}
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}

	m := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:  "audio",
			Port:   psdp.RangedPort{Value: port},
			Protos: strings.Split(proto, "/"),
		},
	}
	for _, f := range formats {
		if err := checkFormat(f); err != nil {
			return nil, err
		}
		pt := strconv.Itoa(int(f.PayloadType))
		m.MediaName.Formats = append(m.MediaName.Formats, pt)
		m.Attributes = append(m.Attributes, psdp.NewAttribute("rtpmap", f.rtpmap()))
	}
	for _, f := range formats {
		if f.Fmtp != "" {
			m.Attributes = append(m.Attributes, psdp.NewAttribute("fmtp", strconv.Itoa(int(f.PayloadType))+" "+f.Fmtp))
		}
	}
	for _, c := range crypto {
		if !isToken(c.Suite) || c.Tag < 0 || c.Tag > maxCryptoTag || len(c.Key) == 0 {
			return nil, fmt.Errorf("sdp: bad crypto line %s", c)
		}
		m.Attributes = append(m.Attributes, psdp.NewAttribute("crypto", c.attr()))
	}
	if fp := dtls.fp; fp != nil {
		if n, ok := fingerprintHashes[fp.Hash]; !ok || len(fp.Value) != n {
			return nil, fmt.Errorf("sdp: bad fingerprint %s", fp.Hash)
		}
		m.Attributes = append(m.Attributes,
			psdp.NewAttribute("fingerprint", fp.String()),
			psdp.NewAttribute("setup", dtls.setup.String()))
	}
	m.Attributes = append(m.Attributes,
		psdp.NewAttribute("ptime", strconv.Itoa(ptime)),
		psdp.NewPropertyAttribute(dir.String()))

	sd := &psdp.SessionDescription{
		Origin: psdp.Origin{
			Username:       Username,
			SessionID:      sessionID,
			SessionVersion: version,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr.String(),
		},
		// RFC 3264 §5: "s=" SHOULD be a single dash when there is no session name.
		SessionName: "-",
		ConnectionInformation: &psdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &psdp.Address{Address: addr.String()},
		},
		TimeDescriptions: []psdp.TimeDescription{{Timing: psdp.Timing{StartTime: 0, StopTime: 0}}},
	}
	if len(others) == 0 {
		sd.MediaDescriptions = []*psdp.MediaDescription{m}
	}
	for i, st := range others {
		if i == audio {
			sd.MediaDescriptions = append(sd.MediaDescriptions, m)
			continue
		}
		sd.MediaDescriptions = append(sd.MediaDescriptions, &psdp.MediaDescription{
			MediaName: psdp.MediaName{
				Media:   st.media,
				Port:    psdp.RangedPort{Value: 0},
				Protos:  []string{st.proto},
				Formats: st.formats,
			},
		})
	}
	return sd.Marshal()
}

// checkFormat refuses a format that would not survive the trip through an rtpmap or fmtp line.
func checkFormat(f Format) error {
	switch {
	case f.PayloadType > 127:
		return fmt.Errorf("sdp: payload type %d out of range", f.PayloadType)
	case f.Name == "" || strings.ContainsAny(f.Name, " \t\r\n/"):
		return fmt.Errorf("sdp: bad encoding name %q", f.Name)
	case f.ClockRate <= 0:
		return fmt.Errorf("sdp: %s: clock rate %d", f.Name, f.ClockRate)
	case strings.ContainsAny(f.Fmtp, "\r\n"):
		return fmt.Errorf("sdp: %s: fmtp contains a line break", f.Name)
	}
	return nil
}
