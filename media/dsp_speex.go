package media

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
)

// speexDSP is one speexdsp echo canceller (MDF) and preprocessor (noise suppression, residual echo
// suppression, AGC) for one stream. Its methods allocate nothing and must not be called
// concurrently.
type speexDSP struct {
	frame int
	echo  *C.SpeexEchoState       // nil when echo cancellation is off
	pre   *C.SpeexPreprocessState // nil when no preprocessing is on
}

// speexConfig says what a speexDSP does.
type speexConfig struct {
	rate, frame  int
	echoTail     int // samples of echo the canceller models; 0 turns it off
	denoise      bool
	noiseDB      int // noise attenuation in dB, negative
	agc          bool
	residualEcho bool // let the preprocessor suppress what the canceller left of the echo
}

func newSpeexDSP(c speexConfig) (*speexDSP, error) {
	if c.frame <= 0 || c.rate <= 0 {
		return nil, errors.New("speexdsp: bad frame size or rate")
	}
	d := &speexDSP{frame: c.frame}
	if c.echoTail > 0 {
		d.echo = C.speex_echo_state_init(C.int(c.frame), C.int(c.echoTail))
		if d.echo == nil {
			return nil, errors.New("speexdsp: cannot make an echo canceller")
		}
		C.tp_echo_rate(d.echo, C.int(c.rate))
	}
	if c.denoise || c.agc || (d.echo != nil && c.residualEcho) {
		d.pre = C.speex_preprocess_state_init(C.int(c.frame), C.int(c.rate))
		if d.pre == nil {
			d.close()
			return nil, errors.New("speexdsp: cannot make a preprocessor")
		}
		C.tp_ctl_int(d.pre, C.SPEEX_PREPROCESS_SET_DENOISE, boolInt(c.denoise))
		if c.denoise && c.noiseDB < 0 {
			C.tp_ctl_int(d.pre, C.SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, C.int(c.noiseDB))
		}
		C.tp_ctl_int(d.pre, C.SPEEX_PREPROCESS_SET_AGC, boolInt(c.agc))
		if d.echo != nil && c.residualEcho {
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

// process cleans one captured frame mic in place; ref is the frame most recently sent to the
// speaker (the echo's source), out a scratch frame. All three are d.frame long.
func (d *speexDSP) process(mic, ref, out []int16) {
	if d.echo != nil {
		C.speex_echo_cancellation(d.echo, (*C.spx_int16_t)(unsafe.Pointer(&mic[0])),
			(*C.spx_int16_t)(unsafe.Pointer(&ref[0])), (*C.spx_int16_t)(unsafe.Pointer(&out[0])))
		copy(mic, out)
	}
	if d.pre != nil {
		C.speex_preprocess_run(d.pre, (*C.spx_int16_t)(unsafe.Pointer(&mic[0])))
	}
}

func (d *speexDSP) close() {
	if d.pre != nil {
		C.speex_preprocess_state_destroy(d.pre)
		d.pre = nil
	}
	if d.echo != nil {
		C.speex_echo_state_destroy(d.echo)
		d.echo = nil
	}
}
