//go:build !noportaudio

package portaudio

/*
#cgo pkg-config: portaudio-2.0
#include <portaudio.h>
#include <pa_linux_alsa.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern int tpStreamCallback(void *in, void *out, unsigned long frames, uintptr_t slot);

static int tp_callback(const void *in, void *out, unsigned long frames,
		const PaStreamCallbackTimeInfo *timeInfo, PaStreamCallbackFlags flags, void *user) {
	return tpStreamCallback((void *)in, out, frames, (uintptr_t)user);
}

// tp_device_index returns the index of the PortAudio device called name, or -1.
static int tp_device_index(const char *name) {
	int n = Pa_GetDeviceCount();
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
	if (alsa != NULL) {
		PaAlsa_InitializeStreamInfo(info);
		info->deviceString = alsa;
		p->device = paUseHostApiSpecificDeviceSpecification;
		p->hostApiSpecificStreamInfo = info;
	} else {
		p->device = index;
	}
}

static PaError tp_open(PaStream **s,
		int useIn, const char *inAlsa, int inIndex, double inLatency,
		int useOut, const char *outAlsa, int outIndex, double outLatency,
		double rate, unsigned long frames, uintptr_t slot) {
	PaStreamParameters in, out;
	PaAlsaStreamInfo inInfo, outInfo;
	if (useIn) {
		tp_side(&in, &inInfo, inAlsa, inIndex, inLatency);
	}
	if (useOut) {
		tp_side(&out, &outInfo, outAlsa, outIndex, outLatency);
	}
	return Pa_OpenStream(s, useIn ? &in : NULL, useOut ? &out : NULL, rate, frames, paNoFlag, tp_callback, (void *)slot);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	pa "github.com/gordonklaus/portaudio"
)

// The binding (gordonklaus/portaudio) opens streams only on the devices PortAudio listed at
// initialization; a sink or source of the sound server is reached instead through the ALSA
// pulse plugin's PCM with its DEVICE argument ("pulse:DEVICE=name", defined by alsa-plugins'
// 50-pulseaudio.conf), which PortAudio's ALSA host API opens when given the PCM string in a
// PaAlsaStreamInfo. That needs Pa_OpenStream called here, with its own callback trampoline.
// This route changes neither the user's ~/.asoundrc nor the process environment (the plugin
// would also read PULSE_SINK/PULSE_SOURCE, but setenv while other C threads may call getenv is
// unsafe), and a device that appears later can be opened without restarting PortAudio.

// alsaSide is one direction of a stream opened by openALSA: a PCM string, or else a PortAudio
// device by name.
type alsaSide struct {
	pcm     string  // e.g. "pulse:DEVICE=alsa_output.usb-headset"; "" to use device
	device  string  // a PortAudio device name, when pcm is ""
	latency float64 // seconds
}

// pulsePCM returns the ALSA PCM string that reaches the sound server's sink or source name.
func pulsePCM(name string) string {
	// ALSA argument syntax: a quoted value may hold any character but the quote and backslash.
	return `pulse:DEVICE="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// cStreamSlots are the streams the trampoline can call: the callback finds its stream by slot
// number without locking or allocating.
var cStreamSlots struct {
	mu    sync.Mutex // serializes taking and freeing slots (never taken by the callback)
	slots [64]atomic.Pointer[paStream]
}

func takeSlot(s *paStream) (int, error) {
	cStreamSlots.mu.Lock()
	defer cStreamSlots.mu.Unlock()
	for i := range cStreamSlots.slots {
		if cStreamSlots.slots[i].Load() == nil {
			cStreamSlots.slots[i].Store(s)
			return i, nil
		}
	}
	return 0, errors.New("too many audio streams are open")
}

func freeSlot(i int) {
	cStreamSlots.mu.Lock()
	defer cStreamSlots.mu.Unlock()
	cStreamSlots.slots[i].Store(nil)
}

//export tpStreamCallback
func tpStreamCallback(in, out unsafe.Pointer, frames C.ulong, slot C.uintptr_t) C.int {
	s := cStreamSlots.slots[int(slot)].Load()
	n := int(frames)
	var inBuf, outBuf []int16
	if in != nil {
		inBuf = unsafe.Slice((*int16)(in), n)
	}
	if out != nil {
		outBuf = unsafe.Slice((*int16)(out), n)
	}
	if s == nil {
		clear(outBuf)
		return C.paContinue
	}
	s.callback(inBuf, outBuf)
	return C.paContinue
}

// cStream is a stream opened by openALSA. PortAudio must stay initialized while it is open.
type cStream struct {
	p    unsafe.Pointer // PaStream is void in C
	slot int
	once sync.Once
}

// openALSA opens a mono 16-bit stream with s.callback on the given sides (nil: not used).
func openALSA(s *paStream, in, out *alsaSide, rate, frames int) (*cStream, error) {
	slot, err := takeSlot(s)
	if err != nil {
		return nil, err
	}
	var args [2]struct {
		use     C.int
		pcm     *C.char
		index   C.int
		latency C.double
	}
	for i, side := range []*alsaSide{in, out} {
		if side == nil {
			continue
		}
		a := &args[i]
		a.use = 1
		a.latency = C.double(side.latency)
		if side.pcm != "" {
			a.pcm = C.CString(side.pcm)
			defer C.free(unsafe.Pointer(a.pcm))
			continue
		}
		name := C.CString(side.device)
		a.index = C.tp_device_index(name)
		C.free(unsafe.Pointer(name))
		if a.index < 0 {
			freeSlot(slot)
			return nil, fmt.Errorf("no audio device named %q", side.device)
		}
	}
	var p unsafe.Pointer
	code := C.tp_open(&p, args[0].use, args[0].pcm, args[0].index, args[0].latency,
		args[1].use, args[1].pcm, args[1].index, args[1].latency,
		C.double(rate), C.ulong(frames), C.uintptr_t(slot))
	if code != C.paNoError {
		freeSlot(slot)
		return nil, paErr(code)
	}
	return &cStream{p: p, slot: slot}, nil
}

// paErr returns PortAudio's error as the binding's error type, so errors.Is works alike for both
// kinds of stream.
func paErr(code C.PaError) error {
	if code == C.paNoError {
		return nil
	}
	return pa.Error(int32(code))
}

// Start starts the callbacks.
func (c *cStream) Start() error { return paErr(C.Pa_StartStream(c.p)) }

// Abort stops the callbacks at once.
func (c *cStream) Abort() error { return paErr(C.Pa_AbortStream(c.p)) }

// Close closes the stream (stopping it first if needed); no callback runs after it returns.
func (c *cStream) Close() error {
	var err error
	c.once.Do(func() {
		err = paErr(C.Pa_CloseStream(c.p))
		freeSlot(c.slot)
	})
	return err
}
