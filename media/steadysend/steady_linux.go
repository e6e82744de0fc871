//go:build linux && cgo

// Package steadysend is steady send's Linux machinery (media/steady.go says what steady send is
// and when a session uses it): two C threads pinned to two CPUs, each with a timerfd, sending a
// session's packets on a steady grid. It is a leaf: importing it registers it with media
// (media.RegisterSteadySend; main does, in leaves.go), so that media stays pure Go. Built
// without cgo or for another system, the package says that steady send is missing instead
// (other.go), and sessions send from their own loop.
package steadysend

/*
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

enum { TP_SLOTS = 4, TP_MAXPKT = 1536, TP_SALEN = 28 };
#define TP_TARDY_NS 500000LL

// tp_slot is one tick's packet and where it goes.
typedef struct {
	uint32_t len;
	uint32_t salen;
	unsigned char sa[TP_SALEN];
	unsigned char pkt[TP_MAXPKT];
} tp_slot;

// tp_steady is shared by the media loop (Go) and two timer threads (C). The 64-bit words are
// accessed only with sequentially consistent atomics, on both sides; they hold k+1 for slot k,
// 0 for none.
typedef struct tp_steady {
	uint64_t ready;   // the packet of this slot is in slot[k % TP_SLOTS], not yet taken
	uint64_t claimed; // the newest slot whose deadline a timer thread has handled
	uint64_t reading; // a timer thread is copying this slot's packet
	uint64_t sent;    // packets the timer threads sent
	uint64_t tardy;   // of them, sent more than TP_TARDY_NS after their deadline (both threads late)
	uint64_t err;     // errno of the last failed send, 0 for none; cleared by the media loop
	uint64_t nfail;   // sends that failed
	uint64_t quit;    // the threads end at their next wake-up
	int64_t base;     // CLOCK_MONOTONIC ns when slot 0 is due to leave
	int64_t period;   // ns between slots
	int64_t first;    // the first slot the threads handle
	int sock;         // a duplicate of the session's socket: valid until tp_steady_stop
	int tfd[2];
	int cpu[2];       // the CPU each thread is pinned to
	int manual;       // no threads: tests call tp_steady_fire
	int nthreads;
	pthread_t th[2];
	struct tp_arg { struct tp_steady *s; int i; } arg[2];
	tp_slot slot[TP_SLOTS];
} tp_steady;

static int64_t tp_mono(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t tp_load(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void tp_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static int tp_cas(uint64_t *p, uint64_t old, uint64_t new) {
	return __atomic_compare_exchange_n(p, &old, new, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

// tp_steady_fire handles slot k's deadline, late by ns: the first thread to get there claims
// the slot and, if the media loop has put its packet there, takes and sends it. A slot that is
// not ready is left to the media loop, which sees the claim. Returns 1 if it sent the packet.
static int tp_steady_fire(tp_steady *s, uint64_t k, int64_t late) {
	uint64_t want = k + 1, c = tp_load(&s->claimed);
	for (;;) {
		if (c >= want) return 0; // the other thread was first, or a later slot was handled
		if (__atomic_compare_exchange_n(&s->claimed, &c, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) break;
	}
	tp_store(&s->reading, want);
	if (!tp_cas(&s->ready, want, 0)) {
		tp_store(&s->reading, 0);
		return 0;
	}
	tp_slot local;
	tp_slot *sl = &s->slot[k % TP_SLOTS];
	local.len = sl->len;
	local.salen = sl->salen;
	if (local.len > TP_MAXPKT) local.len = TP_MAXPKT;
	if (local.salen > TP_SALEN) local.salen = TP_SALEN;
	memcpy(local.sa, sl->sa, local.salen);
	memcpy(local.pkt, sl->pkt, local.len);
	tp_store(&s->reading, 0);
	ssize_t n = sendto(s->sock, local.pkt, local.len, MSG_DONTWAIT, (struct sockaddr *)local.sa, local.salen);
	if (n < 0) {
		tp_store(&s->err, (uint64_t)errno);
		__atomic_add_fetch(&s->nfail, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	__atomic_add_fetch(&s->sent, 1, __ATOMIC_SEQ_CST);
	if (late > TP_TARDY_NS) __atomic_add_fetch(&s->tardy, 1, __ATOMIC_SEQ_CST);
	return 1;
}

// tp_steady_run is a timer thread. It exits at the first wake-up after quit is set (tp_steady_stop
// makes that wake-up come at once) or when its timer fails.
static void *tp_steady_run(void *p) {
	struct tp_arg *a = p;
	tp_steady *s = a->s;
	int fd = s->tfd[a->i];
	if (s->cpu[a->i] >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(s->cpu[a->i], &set);
		pthread_setaffinity_np(pthread_self(), sizeof set, &set); // best effort
	}
	// Armed from this thread, after pinning: the kernel keeps the timer on this CPU.
	int64_t t = s->base + s->first * s->period;
	struct itimerspec its;
	its.it_interval.tv_sec = s->period / 1000000000LL;
	its.it_interval.tv_nsec = s->period % 1000000000LL;
	its.it_value.tv_sec = t / 1000000000LL;
	its.it_value.tv_nsec = t % 1000000000LL;
	if (!tp_load(&s->quit) && timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) return NULL;
	for (;;) {
		uint64_t exp;
		ssize_t n = read(fd, &exp, sizeof exp);
		if (tp_load(&s->quit)) return NULL;
		if (n != sizeof exp) {
			if (n < 0 && errno == EINTR) continue;
			return NULL;
		}
		int64_t now = tp_mono();
		if (now < s->base) continue;
		uint64_t k = (uint64_t)((now - s->base) / s->period);
		tp_steady_fire(s, k, now - (s->base + (int64_t)k * s->period));
	}
}

// tp_steady_stop ends the threads (each at once: its timer is made to expire now), waits for
// them, and frees s.
static void tp_steady_stop(tp_steady *s) {
	tp_store(&s->quit, 1);
	struct itimerspec now = {{0, 0}, {0, 1}};
	for (int i = 0; i < 2; i++)
		if (s->tfd[i] >= 0) timerfd_settime(s->tfd[i], 0, &now, NULL);
	for (int i = 0; i < s->nthreads; i++) pthread_join(s->th[i], NULL);
	for (int i = 0; i < 2; i++)
		if (s->tfd[i] >= 0) close(s->tfd[i]);
	if (s->sock >= 0) close(s->sock);
	free(s);
}

// tp_steady_start returns a steady sender on a duplicate of sock, or NULL with *err set. Slot k
// is due to leave at base + k*period; the threads handle slots from first on. manual makes one
// without threads, for tests.
static tp_steady *tp_steady_start(int sock, int64_t base, int64_t period, int64_t first, int manual, int *err) {
	cpu_set_t set;
	int cpus[2] = {-1, -1}, ncpu = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
			if (CPU_ISSET(c, &set)) cpus[ncpu++] = c;
	}
	if (!manual && ncpu < 2) { *err = ENXIO; return NULL; }
	tp_steady *s = calloc(1, sizeof *s);
	if (!s) { *err = ENOMEM; return NULL; }
	s->base = base; s->period = period; s->first = first; s->manual = manual;
	s->tfd[0] = s->tfd[1] = -1;
	s->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
	if (s->sock < 0) { *err = errno; free(s); return NULL; }
	if (manual) return s;
	for (int i = 0; i < 2; i++) {
		s->cpu[i] = cpus[i];
		s->tfd[i] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (s->tfd[i] < 0) { *err = errno; goto fail; }
	}
	for (int i = 0; i < 2; i++) {
		s->arg[i].s = s; s->arg[i].i = i;
		int e = pthread_create(&s->th[i], NULL, tp_steady_run, &s->arg[i]);
		if (e != 0) { *err = e; goto fail; }
		s->nthreads++;
		pthread_setname_np(s->th[i], "tp-steady"); // the name top -H shows; set before returning
	}
	return s;
fail:
	tp_steady_stop(s);
	return NULL;
}
*/
import "C"

import (
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"trayphone/media"
)

func init() { media.RegisterSteadySend(Start, "") }

// sender sends a session's packets from two timer threads (steady.go). Its methods other
// than stop are called by the send goroutine only; the per-packet path (post) makes no cgo call,
// which would wake the runtime's monitor thread: it writes the C slot and uses atomics.
type sender struct {
	c      *C.tp_steady
	sock   uintptr // the C side's duplicate of the socket, for the media loop's own late sends
	slots  [C.TP_SLOTS]struct{ pkt, sa []byte }
	ready  *uint64
	claim  *uint64
	read   *uint64
	sentP  *uint64
	errP   *uint64
	failP  *uint64
	failed uint64 // sends the threads reported failed, as last seen
	late   uint64 // packets the media loop sent itself, the threads having passed their slot
	posted uint64 // k+1 of the last slot posted
}

// Start starts a steady sender on conn: slot k's packet leaves at base + k×period
// (CLOCK_MONOTONIC ns, monoOf); the threads handle slots from first on. manual starts no threads (tests
// call fire).
func Start(conn *net.UDPConn, base int64, period time.Duration, first int64, manual bool) (media.SteadySender, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("steady send: %w", err)
	}
	var c *C.tp_steady
	var cerr C.int
	m := C.int(0)
	if manual {
		m = 1
	}
	if err := raw.Control(func(fd uintptr) {
		c = C.tp_steady_start(C.int(fd), C.int64_t(base), C.int64_t(period), C.int64_t(first), m, &cerr)
	}); err != nil {
		return nil, fmt.Errorf("steady send: %w", err)
	}
	if c == nil {
		if syscall.Errno(cerr) == syscall.ENXIO {
			return nil, media.ErrSteadyOneCPU
		}
		return nil, fmt.Errorf("steady send: %w", syscall.Errno(cerr))
	}
	s := &sender{
		c:     c,
		sock:  uintptr(c.sock),
		ready: (*uint64)(unsafe.Pointer(&c.ready)),
		claim: (*uint64)(unsafe.Pointer(&c.claimed)),
		read:  (*uint64)(unsafe.Pointer(&c.reading)),
		sentP: (*uint64)(unsafe.Pointer(&c.sent)),
		errP:  (*uint64)(unsafe.Pointer(&c.err)),
		failP: (*uint64)(unsafe.Pointer(&c.nfail)),
	}
	for i := range s.slots {
		s.slots[i].pkt = unsafe.Slice((*byte)(unsafe.Pointer(&c.slot[i].pkt[0])), C.TP_MAXPKT)
		s.slots[i].sa = unsafe.Slice((*byte)(unsafe.Pointer(&c.slot[i].sa[0])), C.TP_SALEN)
	}
	return s, nil
}

// Post hands slot k's packet (to the socket address sa) to the threads, which send it at the
// slot's deadline. due says whether the deadline has passed already. It reports false when the
// caller must send the packet itself, now: the deadline has passed, the packet does not fit, or
// a thread is still copying the buffer the slot would use. A packet left behind by late threads
// and one they passed while it was being posted are sent here, in order. It allocates nothing.
//
// Why a buffer is never read while written: a thread copies slot j only after taking it from
// ready (j+1 → 0), which the loop stores only once the slot is written; the loop writes slot k's
// buffer (shared with k−4, k−8, …) only when no earlier slot is left in ready (it takes and sends
// any) and no thread has announced in reading, before taking it, that it copies slot k−4.
func (s *sender) Post(k int64, pkt, sa []byte, due bool) (bool, error) {
	want := uint64(k + 1)
	var err error
	if s.posted >= want {
		// A second packet in one tick (the session sends one; this keeps the order if that
		// changes): the first goes now if it has not, then this one.
		if atomic.CompareAndSwapUint64(s.ready, want, 0) {
			err = s.sendSlot(k)
		}
		s.late++
		return false, err
	}
	s.posted = want
	// An earlier slot still waits: both threads are a whole period late (or more, across ticks
	// with nothing to send). It goes first, and its buffer is not overwritten unsent.
	if r := atomic.LoadUint64(s.ready); r != 0 && r < want && atomic.CompareAndSwapUint64(s.ready, r, 0) {
		err = s.sendSlot(int64(r - 1))
	}
	if due || len(pkt) > len(s.slots[0].pkt) || len(sa) > len(s.slots[0].sa) ||
		atomic.LoadUint64(s.claim) >= want || want > C.TP_SLOTS && atomic.LoadUint64(s.read) == want-C.TP_SLOTS {
		s.late++
		return false, err
	}
	i := k % C.TP_SLOTS
	sl := &s.c.slot[i]
	copy(s.slots[i].pkt, pkt)
	copy(s.slots[i].sa, sa)
	sl.len, sl.salen = C.uint32_t(len(pkt)), C.uint32_t(len(sa))
	atomic.StoreUint64(s.ready, want)
	// A thread came to the deadline while the packet was being posted and found nothing: the
	// packet is late already, send it now (the take makes sure only one side does).
	if atomic.LoadUint64(s.claim) >= want && atomic.CompareAndSwapUint64(s.ready, want, 0) {
		if e := s.sendSlot(k); e != nil {
			err = e
		}
	}
	return true, err
}

// sendSlot sends slot k's packet from the media loop (it took it from ready).
func (s *sender) sendSlot(k int64) error {
	s.late++
	sl := &s.c.slot[k%C.TP_SLOTS]
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, s.sock, uintptr(unsafe.Pointer(&sl.pkt[0])), uintptr(sl.len),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sl.sa[0])), uintptr(sl.salen))
	if e != 0 {
		return &net.OpError{Op: "write", Net: "udp", Err: syscall.Errno(e)}
	}
	return nil
}

// SendErr returns how many sends the threads made failed since the last call, and the last
// one's error.
func (s *sender) SendErr() (uint64, error) {
	n := atomic.LoadUint64(s.failP)
	d := n - s.failed
	if d == 0 {
		return 0, nil
	}
	s.failed = n
	return d, &net.OpError{Op: "write", Net: "udp", Err: syscall.Errno(atomic.SwapUint64(s.errP, 0))}
}

// Counts returns how many packets the threads sent and how many the media loop sent itself.
func (s *sender) Counts() (threads, loop uint64) { return atomic.LoadUint64(s.sentP), s.late }

// Tardy returns how many packets the threads sent more than 0.5 ms after their deadline: both
// threads woke that late (the machine held both CPUs up).
func (s *sender) Tardy() uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&s.c.tardy)))
}

// Fire is a thread's work at slot k's deadline, woken late after it, for tests of a manual
// sender. It reports whether it sent the packet.
func (s *sender) Fire(k int64, late time.Duration) bool {
	return C.tp_steady_fire(s.c, C.uint64_t(k), C.int64_t(late)) == 1
}

// Stop ends the threads, waits for them and releases the sender. The packet of a slot not yet
// due is not sent. It must be the last call.
func (s *sender) Stop() {
	C.tp_steady_stop(s.c)
	*s = sender{} // the C memory is gone: any later use fails loudly
}
