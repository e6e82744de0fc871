//go:build cgo

// Package g722 is trayphone's G.722 codec, spandsp's through cgo. It is a leaf: importing it
// registers the codec with media (main does, in leaves.go); media itself stays pure Go. Built
// without cgo, the package registers the codec as missing instead (nocgo.go).
package g722

/*
#cgo pkg-config: spandsp
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"trayphone/media"
)

// G.722, ITU-T Recommendation G.722 (https://www.itu.int/rec/T-REC-G.722), 64 kbit/s wideband
// audio: 16 kHz PCM in, 4 bits per sample out. In RTP (RFC 3551 §4.5.2,
// https://www.rfc-editor.org/rfc/rfc3551#section-4.5.2) it is static payload type 9 and, for
// historical reasons, its RTP clock rate is 8000 although it samples at 16000: a 20 ms frame is
// 320 samples, 160 bytes, and advances the timestamp by 160. The codec itself is spandsp's
// bit-exact implementation, through cgo.

// Codec is the G.722 codec at 64 kbit/s.
var Codec = media.Codec{
	Name:        "G722",
	PayloadType: 9,
	ClockRate:   8000,
	SampleRate:  16000,
	NewEncoder:  newG722Encoder,
	NewDecoder:  newG722Decoder,
}

func init() { media.RegisterCodec(Codec) }

// g722Rate is the bit rate the codec runs at: the only one RFC 3551 defines for payload type 9.
const g722Rate = 64000

var errG722Init = errors.New("g722: spandsp could not allocate its state")

type g722Encoder struct {
	st *C.g722_encode_state_t
}

func newG722Encoder() media.Encoder {
	e := &g722Encoder{st: C.g722_encode_init(nil, g722Rate, 0)}
	if e.st != nil {
		runtime.AddCleanup(e, func(st *C.g722_encode_state_t) { C.g722_encode_free(st) }, e.st)
	}
	return e
}

// Encode appends the G.722 bytes for pcm (16 kHz) to dst: one byte per two samples. It allocates
// nothing when dst has room.
func (e *g722Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if e.st == nil {
		return dst, errG722Init
	}
	need := (len(pcm) + 1) / 2
	if len(pcm) == 0 {
		return dst, nil
	}
	dst = growBytes(dst, need)
	out := dst[len(dst)-need:]
	n := C.g722_encode(e.st, (*C.uint8_t)(unsafe.Pointer(&out[0])), (*C.int16_t)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)))
	runtime.KeepAlive(e)
	if int(n) != need {
		return dst[:len(dst)-need], fmt.Errorf("g722 encode: %d bytes for %d samples", int(n), len(pcm))
	}
	return dst, nil
}

type g722Decoder struct {
	st *C.g722_decode_state_t
}

func newG722Decoder() media.Decoder {
	d := &g722Decoder{st: C.g722_decode_init(nil, g722Rate, 0)}
	if d.st != nil {
		runtime.AddCleanup(d, func(st *C.g722_decode_state_t) { C.g722_decode_free(st) }, d.st)
	}
	return d
}

// Decode appends the 16 kHz samples of payload to dst: two per byte. It allocates nothing when
// dst has room.
func (d *g722Decoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	if d.st == nil {
		return dst, errG722Init
	}
	if len(payload) == 0 {
		return dst, nil
	}
	need := 2 * len(payload)
	dst = growSamples(dst, need)
	out := dst[len(dst)-need:]
	n := C.g722_decode(d.st, (*C.int16_t)(unsafe.Pointer(&out[0])), (*C.uint8_t)(unsafe.Pointer(&payload[0])), C.int(len(payload)))
	runtime.KeepAlive(d)
	return dst[:len(dst)-need+int(n)], nil
}

// growBytes extends b by n bytes, reallocating only when it lacks the room.
func growBytes(b []byte, n int) []byte { return slices.Grow(b, n)[:len(b)+n] }

// growSamples extends s by n samples, reallocating only when it lacks the room.
func growSamples(s []int16, n int) []int16 { return slices.Grow(s, n)[:len(s)+n] }
