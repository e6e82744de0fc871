package media

import (
	"runtime"
	"time"

	"trayphone/internal/clock"
)

// pacerMaxCatchUp is how many overdue ticks the pacer still delivers back to back. A loop delayed
// by more than this skips the missed ticks instead of bursting them onto the network.
const pacerMaxCatchUp = 2

// pacerFinish is how long before a tick is due the pacer stops waiting on a Go timer and sleeps the
// rest in the kernel (see fineSleep), when it can. Go's timers on Linux wake through epoll_pwait,
// whose timeout counts whole milliseconds: a timer fires up to 1 ms after it is due (0.35 ms
// typically), which was most of the RTP send-interval jitter. The Go timer, set this much early,
// fires in [due-1.5 ms, due-0.5 ms] plus scheduling delay; the kernel sleep then ends on time.
const pacerFinish = 1500 * time.Microsecond

// pacer wakes a loop on an absolute grid: tick n is due at start + n×period, so the schedule does
// not drift however long each tick takes, and tick n always corresponds to n periods of wall
// clock (the RTP timestamp is derived from it). It is owned by one goroutine.
type pacer struct {
	clk    clock.Clock
	timer  clock.Timer
	period time.Duration
	start  time.Time
	n      int64 // index of the next tick
	// finish is pacerFinish when the last stretch is slept in the kernel: with the real clock,
	// on a platform with fineSleep, and when another P can run the rest of the process meanwhile.
	finish time.Duration
}

// newPacer returns a pacer whose tick 0 is due at once.
func newPacer(clk clock.Clock, period time.Duration) *pacer {
	t := clk.NewTimer(time.Hour)
	t.Stop()
	p := &pacer{clk: clk, timer: t, period: period, start: clk.Now()}
	if _, real := clk.(clock.Real); real && haveFineSleep && runtime.GOMAXPROCS(0) > 1 && period > 4*pacerFinish {
		p.finish = pacerFinish
	}
	return p
}

// due returns when tick n is due.
func (p *pacer) due(n int64) time.Time { return p.start.Add(time.Duration(n) * p.period) }

// wait blocks until the next tick is due, or until done is closed (then ok is false). It returns
// the index of the tick to run and how many ticks before it were skipped because the caller fell
// more than pacerMaxCatchUp periods behind; the caller accounts for the skipped ticks (advances
// its RTP timestamp) without running them.
func (p *pacer) wait(done <-chan struct{}) (tick, skipped int64, ok bool) {
	due := p.due(p.n)
	for {
		d := due.Sub(p.clk.Now()) - p.finish
		if d <= 0 {
			break
		}
		p.timer.Reset(d)
		select {
		case <-p.timer.C():
		case <-done:
			p.timer.Stop()
			return p.n, 0, false
		}
	}
	select {
	case <-done:
		return p.n, 0, false
	default:
	}
	if p.finish > 0 {
		for d := due.Sub(p.clk.Now()); d > 0; d = due.Sub(p.clk.Now()) {
			fineSleep(min(d, p.finish))
		}
	}
	// Ticks due by now, beyond this one.
	if behind := int64(p.clk.Now().Sub(due) / p.period); behind > pacerMaxCatchUp {
		p.n += behind
		skipped = behind
	}
	tick = p.n
	p.n++
	return tick, skipped, true
}

// stop releases the timer.
func (p *pacer) stop() { p.timer.Stop() }
