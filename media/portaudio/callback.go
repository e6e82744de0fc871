//go:build cgo && (linux || windows) && !noportaudio

package portaudio

/*
#include <stdlib.h>
#include "callback.h"
*/
import "C"

import (
	"errors"
	"sync/atomic"
	"unsafe"
)

// cState is the C memory one stream's callback (callback.c, on PortAudio's thread) shares with
// Read and Write: the two rings and the callback's counters. Go reaches it only through
// sync/atomic and copies on pointers into it, so the per-frame path makes no cgo call.
type cState struct {
	c             *C.tp_pa
	capture, play ring
	callbacks     *uint64
	overflows     *uint64
	underruns     *uint64
	trimmed       *uint64 // samples of playback the callback dropped to keep the queue short
	xruns         *uint64 // callbacks flagged with a host over- or underflow
	last          *int64  // ns from the start to the latest callback, 0 before the first
}

// newCState returns a state for frames of devFrame samples whose rings hold at least ring
// samples each, with the playback limits of paPlayPrebuf, paMaxQueued and paTrimTo frames and
// a standing queue of more than half a frame and a callback period trimmed to half a frame
// every paTrimWindow frames (of paCallbackDiv callbacks each).
func newCState(devFrame, ring int) (*cState, error) {
	c := C.tp_pa_new(C.uint64_t(ring), C.uint64_t(paPlayPrebuf*devFrame), C.uint64_t(paMaxQueued*devFrame),
		C.uint64_t(paTrimTo*devFrame), C.uint64_t(paTrimWindow*paCallbackDiv), C.uint64_t(devFrame/2),
		C.uint64_t(devFrame/paCallbackDiv))
	if c == nil {
		return nil, errors.New("no memory for the audio buffers")
	}
	return &cState{
		c:         c,
		capture:   ringOf(&c.capture),
		play:      ringOf(&c.play),
		callbacks: (*uint64)(unsafe.Pointer(&c.callbacks)),
		overflows: (*uint64)(unsafe.Pointer(&c.overflows)),
		underruns: (*uint64)(unsafe.Pointer(&c.underruns)),
		trimmed:   (*uint64)(unsafe.Pointer(&c.trimmed)),
		xruns:     (*uint64)(unsafe.Pointer(&c.xruns)),
		last:      (*int64)(unsafe.Pointer(&c.last)),
	}, nil
}

// start makes the callback use the rings (until then it plays silence) and measure its time from
// now on.
func (st *cState) start() { C.tp_pa_start(st.c) }

// free releases the C memory. The stream using it must be closed (Pa_CloseStream returned), and
// nothing may use st after.
func (st *cState) free() {
	C.free(unsafe.Pointer(st.c))
	*st = cState{} // any later use fails loudly instead of reading freed memory
}

// ring is Go's side of a tp_ring (callback.h): a lock-free single-producer single-consumer queue
// of samples in C memory. write is called only by the producer, read and discard only by the
// consumer, len by either. Each index is stored only by its own side, after the samples it
// covers were copied (sync/atomic stores are sequentially consistent, at least the release order
// the C side relies on), and loaded by the other before it touches them.
type ring struct {
	c          *C.tp_ring
	buf        []int16 // C memory
	mask       uint64
	head, tail *uint64 // samples ever written, ever consumed
}

func ringOf(c *C.tp_ring) ring {
	return ring{
		c:    c,
		buf:  unsafe.Slice((*int16)(unsafe.Pointer(c.buf)), int(c.mask)+1),
		mask: uint64(c.mask),
		head: (*uint64)(unsafe.Pointer(&c.head)),
		tail: (*uint64)(unsafe.Pointer(&c.tail)),
	}
}

// len returns the number of queued samples.
func (r *ring) len() int { return int(atomic.LoadUint64(r.head) - atomic.LoadUint64(r.tail)) }

// write queues as much of p as fits and returns how much that was.
func (r *ring) write(p []int16) int {
	head := atomic.LoadUint64(r.head)
	free := uint64(len(r.buf)) - (head - atomic.LoadUint64(r.tail))
	n := min(uint64(len(p)), free)
	i := head & r.mask
	c := uint64(copy(r.buf[i:], p[:n]))
	copy(r.buf, p[c:n])
	atomic.StoreUint64(r.head, head+n)
	return int(n)
}

// read dequeues up to len(p) samples into p and returns how many.
func (r *ring) read(p []int16) int {
	tail := atomic.LoadUint64(r.tail)
	n := min(uint64(len(p)), atomic.LoadUint64(r.head)-tail)
	i := tail & r.mask
	c := uint64(copy(p[:n], r.buf[i:]))
	copy(p[c:n], r.buf)
	atomic.StoreUint64(r.tail, tail+n)
	return int(n)
}

// discard drops up to n of the oldest queued samples.
func (r *ring) discard(n int) {
	tail := atomic.LoadUint64(r.tail)
	m := min(uint64(n), atomic.LoadUint64(r.head)-tail)
	atomic.StoreUint64(r.tail, tail+m)
}

// The rest drives the C side from Go for tests (a _test.go file cannot use cgo); nothing else
// calls it. Each is a cgo call, which the real per-frame path never makes.

// callback runs the C callback once, as PortAudio would, on frames of len(in) or len(out)
// samples; an empty side is one the stream does not have (NULL). Used sides have one length.
func (st *cState) callback(in, out []int16) {
	var inP, outP unsafe.Pointer
	if len(in) > 0 {
		inP = unsafe.Pointer(&in[0])
	}
	if len(out) > 0 {
		outP = unsafe.Pointer(&out[0])
	}
	C.tp_callback(inP, outP, C.ulong(max(len(in), len(out))), nil, 0, unsafe.Pointer(st.c))
}

// primed reports the callback's primed flag.
func (st *cState) primed() bool { return st.c.primed != 0 }

func samplesOf(p []int16) *C.int16_t {
	if len(p) == 0 {
		return nil
	}
	return (*C.int16_t)(unsafe.Pointer(&p[0]))
}

// cLen, cWrite, cRead and cDiscard are len, write, read and discard done by the C side.
func (r *ring) cLen() int { return int(C.tp_ring_len(r.c)) }

func (r *ring) cWrite(p []int16) int {
	return int(C.tp_ring_write(r.c, samplesOf(p), C.uint64_t(len(p))))
}

func (r *ring) cRead(p []int16) int {
	return int(C.tp_ring_read(r.c, samplesOf(p), C.uint64_t(len(p))))
}

func (r *ring) cDiscard(n int) { C.tp_ring_discard(r.c, C.uint64_t(n)) }
