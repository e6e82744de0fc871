//go:build cgo

// Package speex is trayphone's microphone processing, speexdsp's echo canceller and preprocessor
// through cgo. It is a leaf: importing it registers it with media (media.RegisterProcessor; main
// does, in leaves.go), and media.WithProcessing then uses it; media itself stays pure Go. Built
// without cgo, the package says that processing is missing instead (nocgo.go).
package speex

// #cgo pkg-config: speexdsp
// #include <stdlib.h>
// #include <speex/speex_echo.h>
// #include <speex/speex_preprocess.h>
//
// static int tp_ctl_int(SpeexPreprocessState *st, int req, int v) { return speex_preprocess_ctl(st, req, &v); }
// static int tp_ctl_echo(SpeexPreprocessState *st, SpeexEchoState *e) { return speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_ECHO_STATE, e); }
// static int tp_echo_rate(SpeexEchoState *e, int rate) { return speex_echo_ctl(e, SPEEX_ECHO_SET_SAMPLING_RATE, &rate); }
import "C"

import (
	"errors"
	"unsafe"

	"trayphone/media"
)

func init() { media.RegisterProcessor(newSpeexDSP) }

// speexDSP is one speexdsp echo canceller (MDF) and preprocessor (noise suppression, residual echo
// suppression, AGC) for one stream. Its methods allocate nothing and must not be called
// concurrently.
type speexDSP struct {
	frame int
	echo  *C.SpeexEchoState       // nil when echo cancellation is off
	pre   *C.SpeexPreprocessState // nil when no preprocessing is on
}

// newSpeexDSP makes the processing c asks for; it is media's processor (media.RegisterProcessor).
func newSpeexDSP(c media.ProcessorConfig) (media.Processor, error) {
	if c.Frame <= 0 || c.Rate <= 0 {
		return nil, errors.New("speexdsp: bad frame size or rate")
	}
	d := &speexDSP{frame: c.Frame}
	if c.EchoTail > 0 {
		d.echo = C.speex_echo_state_init(C.int(c.Frame), C.int(c.EchoTail))
		if d.echo == nil {
			return nil, errors.New("speexdsp: cannot make an echo canceller")
		}
		C.tp_echo_rate(d.echo, C.int(c.Rate))
	}
	if c.Denoise || c.AGC || (d.echo != nil && c.ResidualEcho) {
		d.pre = C.speex_preprocess_state_init(C.int(c.Frame), C.int(c.Rate))
		if d.pre == nil {
			d.Close()
			return nil, errors.New("speexdsp: cannot make a preprocessor")
		}
		C.tp_ctl_int(d.pre, C.SPEEX_PREPROCESS_SET_DENOISE, boolInt(c.Denoise))
		if c.Denoise && c.NoiseDB < 0 {
			C.tp_ctl_int(d.pre, C.SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, C.int(c.NoiseDB))
		}
		C.tp_ctl_int(d.pre, C.SPEEX_PREPROCESS_SET_AGC, boolInt(c.AGC))
		if d.echo != nil && c.ResidualEcho {
			C.tp_ctl_echo(d.pre, d.echo)
		}
	}
	return d, nil
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Process cleans one captured frame mic in place; ref is the frame most recently sent to the
// speaker (the echo's source), out a scratch frame. All three are d.frame long.
func (d *speexDSP) Process(mic, ref, out []int16) {
	if d.echo != nil {
		C.speex_echo_cancellation(d.echo, (*C.spx_int16_t)(unsafe.Pointer(&mic[0])),
			(*C.spx_int16_t)(unsafe.Pointer(&ref[0])), (*C.spx_int16_t)(unsafe.Pointer(&out[0])))
		copy(mic, out)
	}
	if d.pre != nil {
		C.speex_preprocess_run(d.pre, (*C.spx_int16_t)(unsafe.Pointer(&mic[0])))
	}
}

// Close frees the canceller and the preprocessor.
func (d *speexDSP) Close() {
	if d.pre != nil {
		C.speex_preprocess_state_destroy(d.pre)
		d.pre = nil
	}
	if d.echo != nil {
		C.speex_echo_state_destroy(d.echo)
		d.echo = nil
	}
}
