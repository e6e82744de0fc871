package media

import (
	"errors"
	"fmt"
	"strings"
)

// Sending DTMF as RFC 4733 telephone-events (https://www.rfc-editor.org/rfc/rfc4733). Each digit
// is one event: its packets all carry the RTP timestamp of the event's start (§2.5.1.2), the
// first one has the marker bit (§2.5.1.1), the duration grows by one frame per packet, and the
// final packet, with the E bit, is sent three times (§2.5.1.4). The event packets share the audio
// stream's SSRC and sequence numbers; audio is not sent while an event is on. Digits are
// separated by a gap of audio.

const (
	// dtmfEventFrames is how many 20 ms frames one digit lasts: 100 ms, above the 40 ms that
	// ITU-T Q.24 receivers need.
	dtmfEventFrames = 5
	// dtmfEndPackets is how often the final packet is sent (RFC 4733 §2.5.1.4).
	dtmfEndPackets = 3
	// dtmfGapFrames is the pause between digits: 100 ms.
	dtmfGapFrames = 5
	// dtmfVolume is the power level trayphone reports, in -dBm0 (RFC 4733 §2.3.4).
	dtmfVolume = 10
	// dtmfQueue is how many digits may wait to be sent.
	dtmfQueue = 64
)

// ErrNoTelephoneEvent is SendDTMF's answer when the far end did not offer telephone-events; the
// caller falls back to another way (SIP INFO).
var ErrNoTelephoneEvent = errors.New("the far end does not accept RFC 4733 telephone-events")

// DTMFKeys are the keys SendDTMF accepts, in RFC 4733 §3.2 event code order.
const DTMFKeys = "0123456789*#ABCD"

// dtmfCode maps a key to its RFC 4733 §3.2 event code ('a'-'d' count as 'A'-'D').
func dtmfCode(key rune) (uint8, bool) {
	i := strings.IndexRune(DTMFKeys, key)
	if i < 0 && key >= 'a' && key <= 'd' {
		i = strings.IndexRune(DTMFKeys, key-'a'+'A')
	}
	if i < 0 {
		return 0, false
	}
	return uint8(i), true
}

// CheckDTMF returns an error naming the first character of digits that is not a DTMF key.
func CheckDTMF(digits string) error {
	if digits == "" {
		return errors.New("no digits to send")
	}
	for _, r := range digits {
		if _, ok := dtmfCode(r); !ok {
			return fmt.Errorf("%q is not a DTMF key (use 0-9, *, #, A-D)", r)
		}
	}
	return nil
}

// appendTelephoneEvent appends the 4-byte RFC 4733 §2.3 payload of ev to dst.
func appendTelephoneEvent(dst []byte, ev telephoneEvent) []byte {
	b1 := ev.Volume & 0x3f
	if ev.End {
		b1 |= 0x80
	}
	return append(dst, ev.Event, b1, byte(ev.Duration>>8), byte(ev.Duration))
}

// dtmfSender turns queued keys into one telephone-event packet per 20 ms frame. It is owned by
// the send goroutine; only queue is shared.
type dtmfSender struct {
	queue chan uint8
	step  uint32 // RTP timestamp units per frame

	active  bool
	code    uint8
	startTS uint32
	frames  int // frames of the current event sent so far, end packets included
	gap     int // frames of audio still to send before the next digit
}

func newDTMFSender(step uint32) dtmfSender {
	return dtmfSender{queue: make(chan uint8, dtmfQueue), step: step}
}

// enqueue adds digits (already checked) to the queue, or fails without adding any when they do
// not all fit.
func (d *dtmfSender) enqueue(digits string) error {
	if len(digits) > cap(d.queue)-len(d.queue) {
		return fmt.Errorf("too many DTMF digits waiting (at most %d)", cap(d.queue))
	}
	for _, r := range digits {
		code, _ := dtmfCode(r)
		select {
		case d.queue <- code:
		default: // another caller filled it meanwhile
			return fmt.Errorf("too many DTMF digits waiting (at most %d)", cap(d.queue))
		}
	}
	return nil
}

// next returns the event packet to send in the frame whose audio timestamp is ts, and whether
// there is one (if not, the frame's audio goes out). marker is set on an event's first packet.
func (d *dtmfSender) next(ts uint32) (ev telephoneEvent, evTS uint32, marker, ok bool) {
	if !d.active {
		if d.gap > 0 {
			d.gap--
			return ev, 0, false, false
		}
		select {
		case code := <-d.queue:
			d.active, d.code, d.startTS, d.frames = true, code, ts, 0
			marker = true
		default:
			return ev, 0, false, false
		}
	}
	d.frames++
	ev = telephoneEvent{Event: d.code, Volume: dtmfVolume}
	if d.frames <= dtmfEventFrames-1 {
		ev.Duration = uint16(uint32(d.frames) * d.step)
	} else {
		// The last frame of the event and its two repeats: the end packets, all with the full
		// duration.
		ev.End = true
		ev.Duration = uint16(dtmfEventFrames * d.step)
		if d.frames >= dtmfEventFrames-1+dtmfEndPackets {
			d.active = false
			d.gap = dtmfGapFrames
		}
	}
	return ev, d.startTS, marker, true
}
