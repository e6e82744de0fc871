package rt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Why a timerfd. A Go timer on Linux fires from the netpoller's epoll_pwait, whose timeout counts
// whole milliseconds (a 20 ms tick came 0.35 ms late typically, up to 1 ms), and every pending Go
// timer also wakes the runtime's monitor thread (sysmon), which sleeps until the next timer in the
// process. A timerfd is a kernel interval timer that reads as a file: the pacer waits for it in
// the netpoller like a socket, the kernel wakes the waiting thread within microseconds of the tick,
// the timer re-arms itself on its own grid (no drift, nothing to reset), and no Go timer exists
// for sysmon to wake up for. Waiting holds no P and no thread of its own.

// tickTimer is a periodic kernel timer. It is read by one goroutine; interrupt may be called from
// any goroutine.
type tickTimer struct {
	f   *os.File
	raw syscall.RawConn
	fn  func(fd uintptr) bool // t.readExpirations, bound once so that wait allocates nothing

	buf   [8]byte
	n     int
	errno syscall.Errno
}

// timerfd_create/timerfd_settime flags (linux/timerfd.h).
const (
	tfdCloexec  = syscall.O_CLOEXEC
	tfdNonblock = syscall.O_NONBLOCK
)

// newTickTimer starts a timer whose expiries are at start and every period after it (an expiry
// already past counts at once). The grid is the caller's: the timer is armed at start's own
// instant on the kernel's clock, not relative to when it is armed, so a caller held up between
// reading the time and creating the timer (a busy call setup, a virtual CPU paused) does not have
// every tick of the call come late by as much.
func newTickTimer(period time.Duration, start time.Time) (*tickTimer, error) {
	if period <= 0 {
		return nil, fmt.Errorf("tick timer: period %v", period)
	}
	at, err := MonoOf(start)
	if err != nil {
		return nil, fmt.Errorf("tick timer: %w", err)
	}
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, uintptr(clockMonotonic), tfdCloexec|tfdNonblock, 0)
	if e != 0 {
		return nil, fmt.Errorf("tick timer: timerfd_create: %w", e)
	}
	// struct itimerspec { it_interval, it_value }, the first expiry absolute.
	spec := [2]syscall.Timespec{syscall.NsecToTimespec(int64(period)), syscall.NsecToTimespec(at)}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, fd, tfdTimerAbstime, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("tick timer: timerfd_settime: %w", e)
	}
	f := os.NewFile(fd, "timerfd")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tick timer: %w", err)
	}
	t := &tickTimer{f: f, raw: raw}
	t.fn = t.readExpirations
	return t, nil
}

// tfdTimerAbstime is TFD_TIMER_ABSTIME (linux/timerfd.h): the first expiry is a time on the
// timer's clock, not a delay.
const tfdTimerAbstime = 1

// clockMono reads CLOCK_MONOTONIC in nanoseconds with a raw system call (no cgo call, which
// would go through the runtime's syscall entry, and nothing allocated).
func clockMono() (int64, error) {
	var ts syscall.Timespec
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, fmt.Errorf("clock_gettime: %w", e)
	}
	return ts.Nano(), nil
}

// MonoOf returns t's instant on CLOCK_MONOTONIC, the clock of kernel timers, in nanoseconds. Go's
// times carry a reading of the same clock but do not expose it, so the kernel clock is read
// between two readings of Go's, and the narrowest of a few such brackets is used: a thread
// preempted or paused between two of the reads widens that try's bracket and does not skew the
// result. t must carry a monotonic reading (time.Now's do).
func MonoOf(t time.Time) (int64, error) {
	const tries = 8
	best := time.Duration(math.MaxInt64)
	var at int64
	for range tries {
		t1 := time.Now()
		m, err := clockMono()
		if err != nil {
			return 0, err
		}
		w := time.Since(t1)
		if w < best {
			// The kernel was read about halfway between t1 and t1+w.
			best, at = w, m-int64(t1.Add(w/2).Sub(t))
		}
		if best < 2*time.Microsecond {
			break
		}
	}
	return at, nil
}

// clockMonotonic is CLOCK_MONOTONIC, the clock Go's own monotonic time reads on Linux.
const clockMonotonic = 1

// readExpirations is the RawConn.Read callback: one non-blocking read of the expiry count. It
// returns false (wait for the timer, then call again) when the timer has not expired yet.
func (t *tickTimer) readExpirations(fd uintptr) bool {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&t.buf[0])), uintptr(len(t.buf)))
	t.n, t.errno = int(n), e
	return e != syscall.EAGAIN && e != syscall.EINTR
}

// wait blocks until the timer has expired at least once since the last wait and returns how many
// times it has. It ends with an error after interrupt or close.
func (t *tickTimer) wait() (uint64, error) {
	if err := t.raw.Read(t.fn); err != nil {
		return 0, err
	}
	if t.errno != 0 {
		return 0, fmt.Errorf("tick timer: read: %w", t.errno)
	}
	if t.n != len(t.buf) {
		return 0, errors.New("tick timer: short read")
	}
	return binary.NativeEndian.Uint64(t.buf[:]), nil
}

// interrupt makes a blocked or later wait return an error. It is safe from any goroutine.
func (t *tickTimer) interrupt() { _ = t.f.SetReadDeadline(time.Unix(1, 0)) }

// close releases the timer; a blocked wait returns an error.
func (t *tickTimer) close() { _ = t.f.Close() }
