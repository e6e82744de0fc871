//go:build (linux || windows) && !noportaudio

// callback.c: the PortAudio callback and its rings; see callback.h.

#include "callback.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t tp_acquire(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void tp_release(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// tp_own loads an index or counter only the caller stores: no ordering needed.
static uint64_t tp_own(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

// tp_count adds one to a counter only the callback stores.
static void tp_count(uint64_t *p) { tp_release(p, tp_own(p) + 1); }

#if defined(_WIN32)
#include <windows.h>
static int64_t tp_mono(void) {
	static LARGE_INTEGER freq; // set once; a racing first call writes the same value
	LARGE_INTEGER t;
	if (freq.QuadPart == 0) QueryPerformanceFrequency(&freq);
	QueryPerformanceCounter(&t); // no system call on today's Windows
	return (int64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
}
#else
static int64_t tp_mono(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t); // vDSO: no system call
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}
#endif

tp_pa *tp_pa_new(uint64_t ring, uint64_t prebuf, uint64_t max_queued, uint64_t trim_to, uint64_t window,
		uint64_t slack, uint64_t hyst) {
	uint64_t size = 1;
	// Ends at the first power of two of at least ring samples (ring is a few thousand).
	while (size < ring) size <<= 1;
	tp_pa *s = calloc(1, sizeof *s + 2 * size * sizeof(int16_t));
	if (s == NULL) return NULL;
	s->capture.mask = s->play.mask = size - 1;
	s->capture.buf = (int16_t *)(s + 1);
	s->play.buf = s->capture.buf + size;
	s->prebuf = prebuf;
	s->max_queued = max_queued;
	s->trim_to = trim_to;
	s->window = window;
	s->slack = slack;
	s->hyst = hyst;
	s->win_low = UINT64_MAX;
	return s;
}

void tp_pa_start(tp_pa *s) {
	s->base = tp_mono();
	tp_release(&s->live, 1);
}

uint64_t tp_ring_len(tp_ring *r) { return tp_acquire(&r->head) - tp_acquire(&r->tail); }

uint64_t tp_ring_write(tp_ring *r, const int16_t *p, uint64_t n) {
	uint64_t head = tp_own(&r->head);
	uint64_t room = r->mask + 1 - (head - tp_acquire(&r->tail));
	if (n > room) n = room;
	uint64_t i = head & r->mask, first = r->mask + 1 - i;
	if (first > n) first = n;
	memcpy(r->buf + i, p, first * sizeof *p);
	memcpy(r->buf, p + first, (n - first) * sizeof *p);
	tp_release(&r->head, head + n);
	return n;
}

uint64_t tp_ring_read(tp_ring *r, int16_t *p, uint64_t n) {
	uint64_t tail = tp_own(&r->tail);
	uint64_t queued = tp_acquire(&r->head) - tail;
	if (n > queued) n = queued;
	uint64_t i = tail & r->mask, first = r->mask + 1 - i;
	if (first > n) first = n;
	memcpy(p, r->buf + i, first * sizeof *p);
	memcpy(p + first, r->buf, (n - first) * sizeof *p);
	tp_release(&r->tail, tail + n);
	return n;
}

void tp_ring_discard(tp_ring *r, uint64_t n) {
	uint64_t tail = tp_own(&r->tail);
	uint64_t queued = tp_acquire(&r->head) - tail;
	tp_release(&r->tail, tail + (n < queued ? n : queued));
}

// tp_discard_play drops n of the oldest samples queued for playback and counts them.
static void tp_discard_play(tp_pa *s, uint64_t n) {
	uint64_t queued = tp_ring_len(&s->play);
	if (n > queued) n = queued;
	tp_ring_discard(&s->play, n);
	tp_release(&s->trimmed, tp_own(&s->trimmed) + n);
}

// tp_callback moves samples between the device and the rings: capture into its ring (counting
// an overflow when the ring is full), and playback out of its ring once prebuf samples are
// queued, trimming a queue grown past max_queued or standing above slack + hyst for a whole window,
// and counting an underrun (and waiting for prebuf again) when the ring runs dry.
int tp_callback(const void *input, void *output, unsigned long frames,
		const PaStreamCallbackTimeInfo *timeInfo, PaStreamCallbackFlags flags, void *user) {
	(void)timeInfo;
	tp_pa *s = user;
	const int16_t *in = input;
	int16_t *out = output;
	if (!tp_acquire(&s->live)) { // not started yet
		if (out != NULL) memset(out, 0, frames * sizeof *out);
		return paContinue;
	}
	int64_t since = tp_mono() - s->base;
	__atomic_store_n(&s->last, since > 0 ? since : 1, __ATOMIC_RELEASE);
	tp_count(&s->callbacks);
	if (flags & (paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow)) tp_count(&s->xruns);
	if (in != NULL && tp_ring_write(&s->capture, in, frames) < frames) tp_count(&s->overflows);
	if (out == NULL) return paContinue;
	uint64_t queued = tp_ring_len(&s->play);
	if (!s->primed) {
		if (queued < s->prebuf) {
			memset(out, 0, frames * sizeof *out);
			return paContinue;
		}
		s->primed = 1;
	}
	if (queued > s->max_queued) tp_discard_play(s, queued - s->trim_to);
	uint64_t n = tp_ring_read(&s->play, out, frames);
	if (n < frames) {
		memset(out + n, 0, (frames - n) * sizeof *out);
		tp_count(&s->underruns);
		s->primed = 0;
		s->win_n = 0; // an underrun ends the window: nothing was standing
		s->win_low = UINT64_MAX;
		return paContinue;
	}
	if (s->window == 0) return paContinue;
	uint64_t left = tp_ring_len(&s->play);
	if (left < s->win_low) s->win_low = left;
	if (++s->win_n >= s->window) {
		if (s->win_low > s->slack + s->hyst) tp_discard_play(s, s->win_low - s->slack);
		s->win_n = 0;
		s->win_low = UINT64_MAX;
	}
	return paContinue;
}
