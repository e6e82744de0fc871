package rt

import (
	"testing"
	"time"
)

// TestTickTimerFollowsStart: the kernel timer's grid is the caller's start, not when the timer
// was created. A session's loop that was held up between reading the time and creating its timer
// (a busy call setup) had every tick of the call come that much late by its own reckoning: late
// enough to defeat steady send for the whole call (the loop posted every packet after the
// threads' deadline) and to move the process to real-time scheduling for nothing.
func TestTickTimerFollowsStart(t *testing.T) {
	t.Parallel()
	const period = 20 * time.Millisecond
	start := time.Now().Add(-15 * time.Millisecond) // the caller read the time 15 ms ago
	kt, err := newTickTimer(period, start)
	if err != nil {
		t.Fatal(err)
	}
	defer kt.close()
	n, err := kt.wait() // start itself is past: at once
	if err != nil || n != 1 {
		t.Fatalf("first wait: %d expiries, %v; want 1", n, err)
	}
	if _, err := kt.wait(); err != nil {
		t.Fatal(err)
	}
	// Due at start+20 ms, 5 ms after the timer was made; created on its own grid it would come
	// at start+35 ms.
	at := time.Since(start)
	if at < period {
		t.Fatalf("second expiry %v after start, before it was due at %v", at, period)
	}
	if at > period+10*time.Millisecond {
		t.Fatalf("second expiry %v after start, want about %v: the timer runs on its own grid, not the caller's", at, period)
	}
}

// TestMonoOf checks the translation of Go times to the kernel timers' clock against the clock
// read directly, and that it keeps the distance between two times.
func TestMonoOf(t *testing.T) {
	t.Parallel()
	now := time.Now()
	m, err := MonoOf(now)
	if err != nil {
		t.Fatal(err)
	}
	k, err := clockMono()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(k - m); d < 0 || d > 50*time.Millisecond {
		t.Fatalf("kernel clock read after now is %v past MonoOf(now)", d)
	}
	later, err := MonoOf(now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Each translation is off by at most its bracket: a few µs, more if a thread is paused
	// during every try.
	if d := time.Duration(later-m) - time.Second; d < -500*time.Microsecond || d > 500*time.Microsecond {
		t.Fatalf("MonoOf(now+1s) - MonoOf(now) is 1s%+v", d)
	}
}
