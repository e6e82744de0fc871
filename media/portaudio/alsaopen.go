//go:build cgo && (linux || windows) && !noportaudio

package portaudio

/*
#cgo pkg-config: portaudio-2.0
#include <portaudio.h>
#if defined(__linux__)
#include <pa_linux_alsa.h>
#else
typedef struct { const char *deviceString; } PaAlsaStreamInfo; // no ALSA: sides are PortAudio devices
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "callback.h"

// tp_device_index returns the index of the PortAudio device called name, or -1.
static int tp_device_index(const char *name) {
	int n = Pa_GetDeviceCount();
	// Ends after the last device, or at the first called name.
	for (int i = 0; i < n; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
		if (d != NULL && strcmp(d->name, name) == 0) {
			return i;
		}
	}
	return -1;
}

// tp_side fills p for one direction: an ALSA PCM string (alsa != NULL) or a PortAudio device
// index. info must live until Pa_OpenStream returns.
static void tp_side(PaStreamParameters *p, PaAlsaStreamInfo *info, const char *alsa, int index, double latency) {
	memset(p, 0, sizeof *p);
	p->channelCount = 1;
	p->sampleFormat = paInt16;
	p->suggestedLatency = latency;
#if defined(__linux__)
	if (alsa != NULL) {
		PaAlsa_InitializeStreamInfo(info);
		info->deviceString = alsa;
		p->device = paUseHostApiSpecificDeviceSpecification;
		p->hostApiSpecificStreamInfo = info;
		return;
	}
#endif
	p->device = index;
}

// tp_open opens a mono 16-bit stream whose callback is tp_callback on state.
static PaError tp_open(PaStream **s,
		int useIn, const char *inAlsa, int inIndex, double inLatency,
		int useOut, const char *outAlsa, int outIndex, double outLatency,
		double rate, unsigned long frames, tp_pa *state) {
	PaStreamParameters in, out;
	PaAlsaStreamInfo inInfo, outInfo;
	if (useIn) {
		tp_side(&in, &inInfo, inAlsa, inIndex, inLatency);
	}
	if (useOut) {
		tp_side(&out, &outInfo, outAlsa, outIndex, outLatency);
	}
	return Pa_OpenStream(s, useIn ? &in : NULL, useOut ? &out : NULL, rate, frames, paNoFlag, tp_callback, state);
}
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	pa "github.com/gordonklaus/portaudio"
)

// Every stream is opened here, with Pa_OpenStream called directly and the C callback of
// callback.c, so that no Go code runs on PortAudio's thread (the binding, gordonklaus/portaudio,
// calls a Go function for each callback). Two kinds of side:
//
// A PortAudio device, by index: the default one, or the one of that name.
//
// A sink or source of the sound server, which PortAudio does not list: it is reached through
// the ALSA pulse plugin's PCM with its DEVICE argument ("pulse:DEVICE=name", defined by
// alsa-plugins' 50-pulseaudio.conf), which PortAudio's ALSA host API opens when given the PCM
// string in a PaAlsaStreamInfo. This route changes neither the user's ~/.asoundrc nor the
// process environment (the plugin would also read PULSE_SINK/PULSE_SOURCE, but setenv while
// other C threads may call getenv is unsafe), and a device that appears later can be opened
// without restarting PortAudio.

// streamSide is one direction of a stream opened by openStream: a PCM string, or else a
// PortAudio device by name, or else the default device.
type streamSide struct {
	pcm     string  // e.g. "pulse:DEVICE=alsa_output.usb-headset"; "" to use device
	device  string  // a PortAudio device name, when pcm is ""; "" for the default device
	latency float64 // seconds
}

// pulsePCM returns the ALSA PCM string that reaches the sound server's sink or source name.
func pulsePCM(name string) string {
	// ALSA argument syntax: a quoted value may hold any character but the quote and backslash.
	return `pulse:DEVICE="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// cStream is an open stream and the C state its callback uses. PortAudio must stay initialized
// while it is open.
type cStream struct {
	p    unsafe.Pointer // PaStream is void in C
	st   *cState
	once sync.Once
}

// openStream opens a mono 16-bit stream on the given sides (nil: not used), with a fresh C state
// whose rings count in frames of frames samples; PortAudio calls back every frames/paCallbackDiv.
func openStream(in, out *streamSide, rate, frames int) (*cStream, error) {
	var args [2]struct {
		use     C.int
		pcm     *C.char
		index   C.int
		latency C.double
	}
	for i, side := range []*streamSide{in, out} {
		if side == nil {
			continue
		}
		a := &args[i]
		a.use = 1
		a.latency = C.double(side.latency)
		switch {
		case side.pcm != "":
			a.pcm = C.CString(side.pcm)
			defer C.free(unsafe.Pointer(a.pcm))
		case side.device == "":
			if i == 0 {
				a.index = C.Pa_GetDefaultInputDevice()
			} else {
				a.index = C.Pa_GetDefaultOutputDevice()
			}
			if a.index < 0 {
				return nil, fmt.Errorf("no default audio %s device", direction(i == 0))
			}
		default:
			name := C.CString(side.device)
			a.index = C.tp_device_index(name)
			C.free(unsafe.Pointer(name))
			if a.index < 0 {
				return nil, fmt.Errorf("no audio device named %q", side.device)
			}
		}
	}
	st, err := newCState(frames, paRingFrames*frames)
	if err != nil {
		return nil, err
	}
	var p unsafe.Pointer
	code := C.tp_open(&p, args[0].use, args[0].pcm, args[0].index, args[0].latency,
		args[1].use, args[1].pcm, args[1].index, args[1].latency,
		C.double(rate), C.ulong(frames/paCallbackDiv), st.c)
	if code != C.paNoError {
		st.free()
		return nil, paErr(code)
	}
	return &cStream{p: p, st: st}, nil
}

// paErr returns PortAudio's error as the binding's error type, so errors.Is works with the
// binding's error values.
func paErr(code C.PaError) error {
	if code == C.paNoError {
		return nil
	}
	return pa.Error(int32(code))
}

// latency returns the input and output latency PortAudio reports for the open stream: the
// host's buffering (the ALSA buffer through the pulse plugin), not the sound server's.
func (c *cStream) latency() (in, out time.Duration) {
	info := C.Pa_GetStreamInfo(c.p)
	if info == nil {
		return 0, 0
	}
	sec := func(v C.PaTime) time.Duration { return time.Duration(float64(v) * float64(time.Second)) }
	return sec(info.inputLatency), sec(info.outputLatency)
}

// Start starts the callbacks.
func (c *cStream) Start() error { return paErr(C.Pa_StartStream(c.p)) }

// Abort stops the callbacks at once.
func (c *cStream) Abort() error { return paErr(C.Pa_AbortStream(c.p)) }

// Close closes the stream (stopping it first if needed) and frees its C state: no callback runs
// after Pa_CloseStream returned. If that fails the state is left allocated, since the callback
// might still run. Read and Write must be done with the state.
func (c *cStream) Close() error {
	var err error
	c.once.Do(func() {
		err = paErr(C.Pa_CloseStream(c.p))
		if err == nil {
			c.st.free()
		}
	})
	return err
}
