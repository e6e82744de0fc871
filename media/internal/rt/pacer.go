package rt

import (
	"sync"
	"time"

	"trayphone/internal/clock"
)

// MaxCatchUp is how many overdue ticks the pacer still delivers back to back. A loop delayed
// by more than this skips the missed ticks instead of bursting them onto the network.
const MaxCatchUp = 2

// Pacer wakes a loop on an absolute grid: tick n is due at start + n×period, so the schedule does
// not drift however long each tick takes, and tick n always corresponds to n periods of wall
// clock (the RTP timestamp is derived from it). It is owned by one goroutine.
//
// With the real clock on Linux the grid is a kernel interval timer (tickTimer, ticker_linux.go):
// ticks come within microseconds of when they are due and cost no Go timer. Otherwise (a fake
// clock in tests, other platforms, or no timerfd to be had) a Go timer is reset for each tick.
type Pacer struct {
	clk    clock.Clock
	timer  clock.Timer
	period time.Duration
	start  time.Time
	n      int64 // index of the next tick

	kt      *tickTimer // nil: Go timer
	pending uint64     // kernel timer expiries read but not yet delivered
	watched bool       // a goroutine interrupts kt when wait's done channel closes
	quit    chan struct{}
	once    sync.Once
	err     error // why the kernel timer was given up, until TakeErr
}

// TakeErr returns, once, the error that made the pacer give up its kernel timer, or nil.
func (p *Pacer) TakeErr() error {
	err := p.err
	p.err = nil
	return err
}

// NewPacer returns a pacer whose tick 0 is due at once.
func NewPacer(clk clock.Clock, period time.Duration) *Pacer {
	p := &Pacer{clk: clk, period: period, start: clk.Now(), quit: make(chan struct{})}
	if _, real := clk.(clock.Real); real {
		if kt, err := newTickTimer(period, p.start); err == nil {
			p.kt = kt
			return p
		}
	}
	p.timer = clk.NewTimer(time.Hour)
	p.timer.Stop()
	return p
}

// Period is the time between two ticks.
func (p *Pacer) Period() time.Duration { return p.period }

// Kernel reports whether the ticks come from the kernel timer (not from Go timers).
func (p *Pacer) Kernel() bool { return p.kt != nil }

// Due returns when tick n is due.
func (p *Pacer) Due(n int64) time.Time { return p.start.Add(time.Duration(n) * p.period) }

// Wait blocks until the next tick is due, or until done is closed (then ok is false). It returns
// the index of the tick to run and how many ticks before it were skipped because the caller fell
// more than MaxCatchUp periods behind; the caller accounts for the skipped ticks (advances
// its RTP timestamp) without running them. A pacer is always waited on with the same done.
func (p *Pacer) Wait(done <-chan struct{}) (tick, skipped int64, ok bool) {
	if p.kt != nil {
		return p.waitKernel(done)
	}
	due := p.Due(p.n)
	for {
		d := due.Sub(p.clk.Now())
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
	// Ticks due by now, beyond this one.
	if behind := int64(p.clk.Now().Sub(due) / p.period); behind > MaxCatchUp {
		p.n += behind
		skipped = behind
	}
	tick = p.n
	p.n++
	return tick, skipped, true
}

// waitKernel is wait on the kernel timer. Each read of the timer says how many ticks have come
// due since the last one: one is delivered at once, up to MaxCatchUp more on the next calls
// without blocking; more than that are skipped.
func (p *Pacer) waitKernel(done <-chan struct{}) (tick, skipped int64, ok bool) {
	if !p.watched {
		// Exits when done closes (it then ends a blocked read) or when stop is called.
		p.watched = true
		go func(kt *tickTimer) {
			select {
			case <-done:
				kt.interrupt()
			case <-p.quit:
			}
		}(p.kt)
	}
	if p.pending == 0 {
		k, err := p.kt.wait()
		if err != nil {
			select {
			case <-done:
				return p.n, 0, false
			default:
			}
			// The kernel timer failed while the loop still runs: never stop the call for that;
			// go on with Go timers on the same grid and let the owner say so (err).
			p.err = err
			p.kt.close()
			p.kt = nil
			p.timer = p.clk.NewTimer(time.Hour)
			p.timer.Stop()
			return p.Wait(done)
		}
		p.pending = k
	}
	select {
	case <-done:
		return p.n, 0, false
	default:
	}
	p.pending--
	if behind := int64(p.pending); behind > MaxCatchUp {
		p.n += behind
		skipped = behind
		p.pending = 0
	}
	tick = p.n
	p.n++
	return tick, skipped, true
}

// Stop releases the timer. The pacer is not used after it.
func (p *Pacer) Stop() {
	p.once.Do(func() {
		close(p.quit)
		if p.kt != nil {
			p.kt.close()
		}
		if p.timer != nil {
			p.timer.Stop()
		}
	})
}
