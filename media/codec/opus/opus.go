//go:build cgo

// Package opus is trayphone's Opus codec, libopus through cgo (gopkg.in/hraban/opus.v2). It is a
// leaf: importing it registers the codec with media (main does, in leaves.go); media itself stays
// pure Go. Built without cgo, the package registers the codec as missing instead (nocgo.go).
package opus

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"

	"trayphone/media"
)

// Opus, RFC 6716 (https://www.rfc-editor.org/rfc/rfc6716), in RTP per RFC 7587
// (https://www.rfc-editor.org/rfc/rfc7587): the RTP clock is always 48 kHz and the rtpmap always
// says two channels (§7), whatever is actually sent. trayphone encodes mono at 48 kHz with in-band
// FEC (the next packet carries a low-rate copy of this one) and DTX (silence costs one packet per
// 400 ms), and asks the far end to do the same with useinbandfec=1 and usedtx=1 (§6.1).

// PayloadType is the dynamic payload type trayphone offers Opus on.
const PayloadType = 111

// opusLossPercent tells the encoder how much loss to expect; in-band FEC is only coded when it
// is above zero.
const opusLossPercent = 10

// opusRate is Opus's RTP clock and trayphone's PCM rate for it.
const opusRate = 48000

// Codec is the Opus codec: 48 kHz mono PCM, dynamic payload type.
var Codec = media.Codec{
	Name:        "opus",
	PayloadType: PayloadType,
	ClockRate:   opusRate,
	SampleRate:  opusRate,
	Channels:    2,
	Fmtp:        "useinbandfec=1;usedtx=1;stereo=0;sprop-stereo=0",
	NewEncoder:  newOpusEncoder,
	NewDecoder:  newOpusDecoder,
}

func init() { media.RegisterCodec(Codec) }

// opusDTXMax is the size at or below which an Opus packet carries nothing worth sending: the
// encoder is in DTX (RFC 7587 §3.1.3).
const opusDTXMax = 2

type opusEncoder struct {
	enc *opus.Encoder
	err error
}

func newOpusEncoder() media.Encoder {
	e, err := opus.NewEncoder(opusRate, 1, opus.AppVoIP)
	if err == nil {
		err = e.SetInBandFEC(true)
	}
	if err == nil {
		err = e.SetPacketLossPerc(opusLossPercent)
	}
	if err == nil {
		err = e.SetDTX(true)
	}
	if err != nil {
		return &opusEncoder{err: fmt.Errorf("opus encoder: %w", err)}
	}
	return &opusEncoder{enc: e}
}

// Encode appends the Opus packet for pcm (one 20 ms frame) to dst. A packet of opusDTXMax bytes
// or less means the encoder is in DTX: the session does not send it.
func (e *opusEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if e.err != nil {
		return dst, e.err
	}
	n, err := e.enc.Encode(pcm, dst[len(dst):cap(dst)])
	if err != nil {
		return dst, fmt.Errorf("opus encode: %w", err)
	}
	return dst[:len(dst)+n], nil
}

// Silent reports whether payload, which Encode returned, is a DTX packet that need not be sent.
func (e *opusEncoder) Silent(payload []byte) bool { return len(payload) <= opusDTXMax }

type opusDecoder struct {
	dec   *opus.Decoder
	err   error
	frame int // samples in one 20 ms frame
}

func newOpusDecoder() media.Decoder {
	d, err := opus.NewDecoder(opusRate, 1)
	if err != nil {
		return &opusDecoder{err: fmt.Errorf("opus decoder: %w", err)}
	}
	return &opusDecoder{dec: d, frame: opusRate * media.FrameDuration / 1000}
}

// Decode appends the samples of one Opus packet to dst; dst needs room (cap) for them.
func (d *opusDecoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	if d.err != nil {
		return dst, d.err
	}
	n, err := d.dec.Decode(payload, dst[len(dst):cap(dst)])
	if err != nil {
		return dst, fmt.Errorf("opus decode: %w", err)
	}
	return dst[:len(dst)+n], nil
}

// Conceal appends one frame in place of a lost packet: recovered from the in-band FEC of next,
// the packet after the lost one, when there is one (RFC 7587 §3.1.2), else Opus's own packet
// loss concealment, which also shapes the comfort noise of DTX silence.
func (d *opusDecoder) Conceal(dst []int16, next []byte) ([]int16, error) {
	if d.err != nil {
		return dst, d.err
	}
	if cap(dst)-len(dst) < d.frame {
		return dst, fmt.Errorf("opus conceal: room for %d samples, need %d", cap(dst)-len(dst), d.frame)
	}
	// The capacity must be one frame too: hraban/opus tells libopus to conceal cap(out) samples,
	// and anything but a valid frame length is refused ("invalid argument").
	out := dst[len(dst) : len(dst)+d.frame : len(dst)+d.frame]
	var err error
	if len(next) > opusDTXMax {
		err = d.dec.DecodeFEC(next, out)
	} else {
		err = d.dec.DecodePLC(out)
	}
	if err != nil {
		return dst, fmt.Errorf("opus conceal: %w", err)
	}
	return dst[:len(dst)+d.frame], nil
}
