package media

import (
	"sync"
	"sync/atomic"
	"time"

	"trayphone/media/internal/rt"
)

// Steady send: packets that leave on a steady grid although the computer wakes threads late.
//
// A session's loop wakes every 20 ms from a kernel timer and sends the frame it encodes at once.
// How steadily the packets leave is then how promptly the kernel wakes one thread. On ordinary
// hardware that is tens of microseconds. On a virtual machine it is whatever the host gives: on
// the 2-core test VM a sleeping virtual CPU is sometimes resumed 0.5–3 ms after its timer, on
// about 1 % of the ticks, so one thread's send-interval jitter p99 is 0.3–2 ms from run to run
// (a bare C loop on a timerfd measures the same), and no scheduling class changes that. What
// does: two threads pinned to two CPUs, each with its own timer for the same instant, the first
// to wake doing the work — the hosts delays the two CPUs mostly one at a time (same C loop:
// p99 0.06–0.13 ms in 5 runs of 6, where one thread had 0.23–1.96 ms).
//
// The Go runtime cannot run a goroutine on whichever of two threads wakes first without the
// runtime's syscall entry on every tick, which keeps its monitor thread polling (internal/rt/udp_linux.go
// explains that cost). So the loop still encodes each frame on its tick, and a steady sender
// (steadysend/steady_linux.go: two C threads with a timerfd each, a slot per tick) sends it SteadyLead
// later, from whichever thread is first: the lead covers the loop's own late wake-ups. The
// packet is SteadyLead older when it leaves: that is the price, 3 ms of mouth-to-ear delay, and
// two thread wake-ups a tick. So it is not always on: a session starts sending from its loop and
// changes over when its ticks show this computer's wake-ups are late (steadyTrigger), and the
// process's later calls, and every call on a virtual machine (steadyPrior), from their first
// tick, so that the first packet already leaves on the grid; on hardware that wakes threads on
// time it never does. A slot the
// threads pass before the loop has filled it (the loop later than the lead) is sent by the loop
// at once, and one they leave behind goes before the next: no packet is lost or sent twice, and
// order is kept.
//
// Why 3 ms: the loop is one thread and wakes late like any (in a 60 s call on the test VM, 7–12
// of ~3080 ticks more than 2 ms late, 0–4 more than 3 ms, 0–3 more than 4 ms), and a packet it
// posts after the deadline leaves late, from the loop. 2 ms left up to 0.5 % of the packets late
// in bad spells (30 of 6000 in one 60 s round, which put that round's p99 at 0.61 ms); 3 ms cuts
// that by about three, for 1 ms more delay.
const (
	// SteadyLead is how long after its tick a packet leaves with steady send.
	SteadyLead = 3 * time.Millisecond
	// The trigger: steadyLateTicks ticks later than steadyLateBy within steadyWindow ticks
	// (1.2 % of 5 s), not counting the first steadyGraceTicks of a call.
	steadyLateBy     = 300 * time.Microsecond
	steadyLateTicks  = 3
	steadyWindow     = 250
	steadyGraceTicks = 50
)

// steadyLearned is set once a session of this process has changed over: the computer wakes
// threads late, and later calls change over from their first tick instead of waiting to see
// late ticks of their own.
var steadyLearned atomic.Bool

// steadyPrior reports, once per process, whether calls change over from their first tick even
// before any call has seen a late tick: on a virtual machine (virtualMachine), whose
// virtual CPUs its host resumes late now and then. Without it the first call of a fresh process
// sends from its loop, late now and then, until three late ticks are seen: on the test VM that
// took 1–10 s. Tests replace it.
var steadyPrior = sync.OnceValue(rt.VirtualMachine)

// Why a session changes over to steady send, as its log line says.
const (
	steadyWhyLate    = "its ticks ran late now and then"
	steadyWhyLearned = "an earlier call's ticks ran late now and then"
	steadyWhyVM      = "this is a virtual machine, whose host resumes its CPUs late now and then"
	steadyWhyTest    = "a test asked for it"
)

// steadyTrigger watches a session's tick lateness for steady send. Its zero value is ready; it is
// owned by the send goroutine and allocates nothing.
type steadyTrigger struct {
	at [steadyLateTicks]int64 // tick+1 of the last late ticks, a ring; 0 is none
	i  int
}

// observe notes that tick ran late by late and reports whether the computer's wake-ups are late
// often enough for steady send.
func (t *steadyTrigger) observe(tick int64, late time.Duration) bool {
	if tick < steadyGraceTicks || late < steadyLateBy {
		return false
	}
	t.at[t.i] = tick + 1
	t.i = (t.i + 1) % steadyLateTicks
	oldest := t.at[t.i] // after the advance, the oldest of the ring
	return oldest != 0 && tick+1-oldest < steadyWindow
}
