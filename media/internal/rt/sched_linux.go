package rt

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Real-time scheduling during calls. A call needs little CPU (well under 1 % of a core), but it
// needs it every 20 ms: when the computer is busy (a build, a video call in the browser), an
// ordinary thread that wakes for its tick waits behind the busy ones — measured on a 2-core
// machine with both cores saturated: RTP send-interval jitter p99 21–37 ms, frames skipped — where
// a thread of the lowest real-time priorities waits for nothing but other real-time threads (p99
// 0.7 ms in the same test). So, as audio servers do, while a call is up every thread of the process
// runs SCHED_RR at Priority, a priority far below sound servers' (PipeWire's data thread uses 88)
// so the audio path of the machine still comes first. SCHED_RESET_ON_FORK keeps programs the
// phone starts (a browser through xdg-open) and threads created later out of it; a re-scan every
// Rescan catches the threads the Go runtime starts during a call. When the last call ends every
// thread goes back to SCHED_OTHER.
//
// It takes permission: root, CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least Priority (Debian's
// audio group has one when /etc/security/limits.d/audio.conf grants it). Without it nothing
// changes and acquire says so once.

const (
	Priority = 5
	Rescan   = 2 * time.Second

	SchedOther       = 0
	SchedRR          = 2
	schedResetOnFork = 0x40000000
)

// ErrNotPermitted is what acquire returns when the system does not let the process
// raise its threads' scheduling class.
var ErrNotPermitted = errors.New("real-time scheduling is not permitted for this user (needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least " + strconv.Itoa(Priority) + ")")

// rtState is the process's real-time scheduling: how many sessions want it, and the goroutine that
// keeps new threads in it. Guarded by its mutex (sessions start and end on several goroutines).
type rtState struct {
	mu    sync.Mutex
	users int
	on    bool          // the threads were switched (permission was there)
	err   error         // why they were not, returned to every user while users > 0
	stop  chan struct{} // ends the re-scan goroutine
	done  chan struct{} // closed when it has ended
	// setPolicy changes one thread's policy, getPolicy reads one (tests replace them); nil
	// means schedSet and SchedGet.
	setPolicy func(tid, policy, prio int) error
	getPolicy func(tid int) (int, error)
}

var realtime rtState

// acquire adds a user; the first switches every thread to SCHED_RR. It returns
// ErrNotPermitted (or another error) when the switch could not be made; the caller
// goes on without it, and must still call release.
func (r *rtState) acquire() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users++
	if r.users > 1 {
		return r.err
	}
	r.err = nil
	get := r.getPolicy
	if get == nil {
		get = SchedGet
	}
	if p, err := get(os.Getpid()); err == nil && p != SchedOther {
		// Started in another class (chrt, a session manager): that was someone's choice; leave
		// it, and do not undo it at release.
		return nil
	}
	if err := r.applyAll(SchedRR|schedResetOnFork, Priority); err != nil {
		_ = r.applyAll(SchedOther, 0)
		r.err = err
		return err
	}
	r.on = true
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.rescan(r.stop, r.done)
	return nil
}

// release removes a user; the last one puts every thread back to SCHED_OTHER.
func (r *rtState) release() {
	r.mu.Lock()
	if r.users == 0 {
		r.mu.Unlock()
		return
	}
	r.users--
	if r.users > 0 || !r.on {
		r.mu.Unlock()
		return
	}
	r.on = false
	stop, done := r.stop, r.done
	r.mu.Unlock()
	close(stop)
	<-done
	r.mu.Lock()
	// A session may have started again while the re-scan goroutine was ending.
	if !r.on {
		_ = r.applyAll(SchedOther, 0)
	}
	r.mu.Unlock()
}

// refresh puts threads started since the last scan into the real-time class now, if the
// process is in it.
func (r *rtState) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		_ = r.applyAll(SchedRR|schedResetOnFork, Priority)
	}
}

// rescan puts threads started since the last scan into the real-time class every Rescan. It
// returns when stop is closed.
func (r *rtState) rescan(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(Rescan)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.mu.Lock()
			if r.on {
				_ = r.applyAll(SchedRR|schedResetOnFork, Priority)
			}
			r.mu.Unlock()
		}
	}
}

// applyAll sets policy on every thread of the process. A thread that ended meanwhile is not an
// error; a refusal is.
func (r *rtState) applyAll(policy, prio int) error {
	tids, err := ThreadIDs()
	if err != nil {
		return err
	}
	set := r.setPolicy
	if set == nil {
		set = schedSet
	}
	for _, tid := range tids {
		err := set(tid, policy, prio)
		switch {
		case err == nil, errors.Is(err, syscall.ESRCH):
		case errors.Is(err, syscall.EPERM):
			return ErrNotPermitted
		default:
			return fmt.Errorf("set the scheduling class of thread %d: %w", tid, err)
		}
	}
	return nil
}

// ThreadIDs lists the threads of this process.
func ThreadIDs() ([]int, error) {
	f, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// schedSet is sched_setscheduler(2) on one thread.
func schedSet(tid, policy, prio int) error {
	param := struct{ prio int32 }{int32(prio)}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&param)))
	if e != 0 {
		return e
	}
	return nil
}

// SchedGet is sched_getscheduler(2) on one thread, without the reset-on-fork flag.
func SchedGet(tid int) (int, error) {
	p, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(p) &^ schedResetOnFork, nil
}

// Acquire adds a user of the process's real-time scheduling; the first switches every thread to
// SCHED_RR. It returns ErrNotPermitted (or another error) when the switch could not be made; the
// caller goes on without it, and must still call Release.
func Acquire() error { return realtime.acquire() }

// Release removes a user; the last one puts every thread back to SCHED_OTHER.
func Release() { realtime.release() }

// Refresh puts threads started since the last scan into the real-time class now, if the process
// is in it.
func Refresh() { realtime.refresh() }
