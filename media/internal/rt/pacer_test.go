package rt

import (
	"testing"
	"time"

	"trayphone/internal/clock"
)

func TestPacerAbsoluteScheduleAndSkip(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1000, 0))
	p := NewPacer(clk, 20*time.Millisecond)
	done := make(chan struct{})

	steps := []struct {
		advance     time.Duration // before the wait; the wait must then not block
		tick, skip  int64
		description string
	}{
		{0, 0, 0, "tick 0 is due at once"},
		{20 * time.Millisecond, 1, 0, "on time"},
		{25 * time.Millisecond, 2, 0, "5 ms late: tick 2 still due at 40 ms"},
		{15 * time.Millisecond, 3, 0, "back on the grid at 60 ms, no drift from the late tick"},
		{1030 * time.Millisecond, 54, 50, "held up for a second: skip to the tick due now"},
		{50 * time.Millisecond, 55, 0, "two frames behind: caught up back to back"},
		{0, 56, 0, "catch-up 1"},
		{0, 57, 0, "catch-up 2"},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		tick, skipped, ok := p.Wait(done)
		if !ok || tick != st.tick || skipped != st.skip {
			t.Fatalf("%s: got tick %d skipped %d ok %v, want tick %d skipped %d", st.description, tick, skipped, ok, st.tick, st.skip)
		}
		if due := p.Due(tick); due.After(clk.Now()) {
			t.Fatalf("%s: tick %d due at %v, after now %v", st.description, tick, due, clk.Now())
		}
	}

	// The next tick (58, due at 1160 ms) is in the future: wait blocks on the clock's timer.
	got := make(chan int64)
	go func() {
		tick, _, _ := p.Wait(done)
		got <- tick
	}()
	waitTimers(t, clk, 1)
	clk.Advance(20 * time.Millisecond)
	if tick := <-got; tick != 58 {
		t.Fatalf("blocked wait: got tick %d, want 58", tick)
	}

	// Closing done ends a blocked wait.
	res := make(chan bool)
	go func() {
		_, _, ok := p.Wait(done)
		res <- ok
	}()
	waitTimers(t, clk, 1)
	close(done)
	if ok := <-res; ok {
		t.Fatalf("wait after done: got ok, want false")
	}
}

// TestPacerRealClockNotEarly checks the real-clock pacer, which sleeps its last stretch in the
// kernel when it can, never runs a tick before it is due.
func TestPacerRealClockNotEarly(t *testing.T) {
	t.Parallel()
	p := NewPacer(clock.Real{}, 20*time.Millisecond)
	defer p.Stop()
	done := make(chan struct{})
	for range 5 {
		tick, _, ok := p.Wait(done)
		if !ok {
			t.Fatal("wait ended without done closed")
		}
		if now := time.Now(); now.Before(p.Due(tick)) {
			t.Fatalf("tick %d ran %v before it was due", tick, p.Due(tick).Sub(now))
		}
	}
	close(done)
	if _, _, ok := p.Wait(done); ok {
		t.Fatal("wait ran a tick after done was closed")
	}
}

// TestPacerKernelTimerFails: a kernel timer that fails mid-call (here: its file closed under it)
// must not end the loop; the pacer goes on with Go timers on the same grid and says why once.
func TestPacerKernelTimerFails(t *testing.T) {
	t.Parallel()
	p := NewPacer(clock.Real{}, 20*time.Millisecond)
	defer p.Stop()
	if p.kt == nil {
		t.Skip("no kernel timer on this platform")
	}
	done := make(chan struct{})
	defer close(done)
	if _, _, ok := p.Wait(done); !ok {
		t.Fatal("first wait failed")
	}
	p.kt.close()
	var last int64
	for i := range 5 {
		tick, _, ok := p.Wait(done)
		if !ok {
			t.Fatalf("wait %d after the timer failed: the loop would stop", i)
		}
		if now := time.Now(); now.Before(p.Due(tick)) {
			t.Fatalf("tick %d ran %v early", tick, p.Due(tick).Sub(now))
		}
		last = tick
	}
	if last < 5 {
		t.Fatalf("ticks did not advance: last %d", last)
	}
	if err := p.TakeErr(); err == nil {
		t.Error("TakeErr: no error for the failed kernel timer")
	}
	if err := p.TakeErr(); err != nil {
		t.Errorf("TakeErr twice: %v", err)
	}
}

// waitTimers waits until the fake clock has n active timers: the goroutines under test are
// blocked on it.
func waitTimers(t testing.TB, clk *clock.Fake, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Timers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("fake clock: got %d active timers, want %d", clk.Timers(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}
