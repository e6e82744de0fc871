package media

import "time"

// When a session asks for real-time scheduling. Measured on the 2-core test VM, the real-time
// class is worth it only while the computer is busy: with both cores saturated it cut RTP send
// jitter p99 from 21–37 ms (frames skipped) to ~0.5–0.7 ms, but on an idle machine it changed
// nothing we could measure (session 2 measured 1.5–10× the CPU for it, with the old Go-timer
// pacer; with today's kernel timer and steady send 0.54–1.53 % of a core per process against
// 0.55–1.47 %, 4 rounds each: no cost seen, and no gain). So a session that finds the computer
// busy before its first tick (internal/rt/busy.go) starts in the real-time class; otherwise it starts in
// the ordinary class and moves the process to the real-time class (internal/rt/sched_linux.go) the
// first time its ticks show the computer is busy:
// rtLateTicks ticks later than rtLateBy (or skipped) within rtLateWindow. A few late ticks are
// not enough: a virtual machine's host, a page fault or a packet capture delays one now and then
// (on the idle test VM, a few a minute by 2 ms or more), and no scheduling class helps with those;
// a saturated machine makes ordinary threads late by 5–40 ms many times a second. Nor do the first rtGraceTicks count: while a call starts, the phone
// itself is busy (SIP, opening the sound card) and a few ticks come late on any computer. It stays there until the call ends, since ticks on time under the
// real-time class no longer tell whether the computer is still busy.
const (
	rtLateBy     = 5 * time.Millisecond
	rtLateTicks  = 5
	rtLateWindow = 5 * time.Second
	rtGraceTicks = 50
)

// rtTrigger watches a session's tick lateness. Its zero value is ready; it is owned by the send
// goroutine and allocates nothing.
type rtTrigger struct {
	at [rtLateTicks]time.Time // when the last late ticks ran, a ring
	i  int
}

// observe notes that tick ran late by late (skipped ticks before it count as late ones) at now,
// and reports whether the computer is busy enough for the real-time class.
func (t *rtTrigger) observe(tick int64, now time.Time, late time.Duration, skipped int64) bool {
	if tick < rtGraceTicks || (late < rtLateBy && skipped == 0) {
		return false
	}
	t.at[t.i] = now
	t.i = (t.i + 1) % rtLateTicks
	if skipped >= rtLateTicks-1 {
		return true // held up for whole frames: busy beyond doubt
	}
	oldest := t.at[t.i] // after the advance, the oldest of the ring
	return !oldest.IsZero() && now.Sub(oldest) <= rtLateWindow
}
