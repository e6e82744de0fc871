// callback.h: the PortAudio callback and the state it shares with Go (callback.c, callback.go).
//
// The callback is C so that no Go code runs on PortAudio's audio thread: a C-to-Go call from a
// foreign thread costs about 25 µs and, returning to C through the runtime's system-call entry,
// wakes Go's sysmon thread every time. Go reads and writes the state below with sync/atomic
// through pointers into it, never with a cgo call per frame (which would wake sysmon as well).

#ifndef TP_CALLBACK_H
#define TP_CALLBACK_H

#include <portaudio.h>
#include <stdint.h>

// tp_ring is a lock-free single-producer single-consumer queue of samples. head and tail count
// samples ever written and ever consumed; each is stored only by its own side, with release
// order (Go: atomic.StoreUint64), after the samples it covers were copied, and the other side
// loads it with acquire order (Go: atomic.LoadUint64) before touching those samples.
// aligned(8): Go's 64-bit atomics need it, and i386 aligns uint64_t fields to 4 only.
typedef struct {
	uint64_t head; // stored by the producer
	uint64_t tail; // stored by the consumer
	uint64_t mask; // capacity - 1, a power of two minus one; constant
	int16_t *buf;  // capacity samples, inside the tp_pa allocation; constant
} __attribute__((aligned(8))) tp_ring;

// tp_pa is one stream's state, in C memory (the callback thread keeps a pointer to it for as
// long as the stream is open, which Go memory must not be given to). It must outlive the
// stream: it is freed only after Pa_CloseStream returned.
typedef struct {
	tp_ring capture; // producer: the callback; consumer: Read
	tp_ring play;    // producer: Write; consumer: the callback

	// Written by the callback only (release stores); Go loads them atomically.
	uint64_t callbacks; // callbacks since live
	int64_t last;       // ns after base of the latest callback, at least 1; 0 before the first
	uint64_t overflows; // callbacks whose capture did not all fit in the ring
	uint64_t underruns; // callbacks that ran out of audio to play
	uint64_t primed;    // playback had prebuf queued and has not run out since; the callback's own
	uint64_t xruns;     // callbacks PortAudio flagged with a host over- or underflow (audio lost
	                    // or inserted below us: the echo path moved)

	// Published by tp_pa_start (base first, then live with release order); until live is 1 the
	// callback plays silence and counts nothing.
	uint64_t live;
	int64_t base; // CLOCK_MONOTONIC ns when the stream was started

	// Playback limits in samples, constant: after an underrun playback waits for prebuf
	// queued; more than max_queued queued is trimmed to trim_to, dropping the oldest.
	uint64_t prebuf, max_queued, trim_to;

	// Standing-queue trim, constant: over each window of callbacks (while primed) the callback
	// notes the least audio left queued after its read; if that least is more than slack + hyst
	// samples, all above slack sat in the ring for the whole window, adding latency without
	// ever guarding against an underrun, and it drops that much of the oldest audio. hyst (a
	// callback period) keeps the trim from chasing the queue's own swing by a period, as the
	// callbacks and the 20 ms Writes slide against each other: each trim moves the echo path,
	// which the echo canceller must then find again. 0 window turns it off.
	uint64_t window, slack, hyst;
	uint64_t win_n, win_low; // the callback's own: callbacks into the window, least left so far
	uint64_t trimmed;        // samples dropped by either trim (release stores; Go loads them)
} __attribute__((aligned(8))) tp_pa;

// tp_pa_new returns a zeroed state whose two rings hold at least ring samples each, or NULL if
// out of memory. free() releases it.
tp_pa *tp_pa_new(uint64_t ring, uint64_t prebuf, uint64_t max_queued, uint64_t trim_to, uint64_t window,
		uint64_t slack, uint64_t hyst);

// tp_pa_start sets base to now and makes the state live.
void tp_pa_start(tp_pa *s);

// tp_callback is the PortAudio stream callback; user is the stream's tp_pa. It never blocks,
// locks or allocates.
int tp_callback(const void *in, void *out, unsigned long frames,
		const PaStreamCallbackTimeInfo *timeInfo, PaStreamCallbackFlags flags, void *user);

// The ring operations of the C side; Go has the same in callback.go. write is for the producer
// only; read and discard for the consumer only; len for either.
uint64_t tp_ring_len(tp_ring *r);
uint64_t tp_ring_write(tp_ring *r, const int16_t *p, uint64_t n);
uint64_t tp_ring_read(tp_ring *r, int16_t *p, uint64_t n);
void tp_ring_discard(tp_ring *r, uint64_t n);

#endif
