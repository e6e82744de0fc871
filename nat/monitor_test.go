package nat

import (
	"context"
	"testing"
	"time"

	"trayphone/internal/clock"
)

// chanSource is a fake OS feed.
type chanSource struct {
	c    chan string
	done chan struct{}
}

func newChanSource() *chanSource { return &chanSource{c: make(chan string), done: make(chan struct{})} }

func (s *chanSource) Next() (string, error) {
	select {
	case w := <-s.c:
		return w, nil
	case <-s.done:
		return "", errClosed
	}
}
func (s *chanSource) Close() error { close(s.done); return nil }

// waitTimers waits until the fake clock has n active timers (the loop under test armed them).
func waitTimers(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	for i := 0; clk.Timers() < n; i++ {
		if i > 5000 {
			t.Fatalf("active timers: got %d, want %d", clk.Timers(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func startMonitor(t *testing.T) (*Monitor, *clock.Fake, *chanSource) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	src := newChanSource()
	m, err := NewMonitor(WithMonitorClock(clk), withSource(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitTimers(t, clk, 1)
	return m, clk, src
}

func TestMonitorWake(t *testing.T) {
	m, clk, _ := startMonitor(t)
	clk.Advance(5 * time.Second) // an ordinary tick: no change
	waitTimers(t, clk, 1)
	select {
	case c := <-m.Changes():
		t.Fatalf("got %+v after an ordinary tick", c)
	default:
	}
	clk.Advance(20 * time.Minute) // the laptop slept
	c := <-m.Changes()
	if c.Reason != "wake" || c.Detail != "time jumped 20m0s" {
		t.Errorf("got %+v, want a wake after 20m0s", c)
	}
}

func TestMonitorDebounce(t *testing.T) {
	m, clk, src := startMonitor(t)
	src.c <- "address removed"
	src.c <- "address added"
	src.c <- "route added"
	waitTimers(t, clk, 2) // wake timer + settle timer
	// The last change may still be between the feed reader and the loop; give it a moment to
	// arrive (the loop also drains what is queued when the settle timer fires).
	time.Sleep(20 * time.Millisecond)
	clk.Advance(300 * time.Millisecond)
	c := <-m.Changes()
	if c.Reason != "network" || c.Detail != "address removed, address added, route added" {
		t.Errorf("got %+v, want one network change naming all three", c)
	}
	select {
	case c := <-m.Changes():
		t.Errorf("got a second change %+v", c)
	default:
	}
}

func TestPollSource(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	addrs := make(chan []string, 10)
	cur := []string{"10.0.0.2/24"}
	s := newPollSource(clk, func() ([]string, error) {
		select {
		case a := <-addrs:
			cur = a
		default:
		}
		return cur, nil
	})
	got := make(chan string)
	go func() {
		w, err := s.Next()
		if err != nil {
			w = err.Error()
		}
		got <- w
	}()
	waitTimers(t, clk, 1)
	clk.Advance(3 * time.Second) // same addresses: keeps polling
	waitTimers(t, clk, 1)
	addrs <- []string{"10.0.0.3/24"}
	clk.Advance(3 * time.Second)
	if w := <-got; w != "addresses changed" {
		t.Errorf("got %q, want addresses changed", w)
	}
	s.Close()
	if _, err := s.Next(); err == nil {
		t.Error("Next after Close: got no error")
	}
}

// chanSleeper is a fake power feed.
type chanSleeper struct{ *chanSource }

func (chanSleeper) Name() string { return "fake power feed" }

// TestMonitorPowerWake: a wake-up from the power feed is reported at once, named after the feed,
// and the clock jump of the same sleep is not reported again.
func TestMonitorPowerWake(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	pw := chanSleeper{newChanSource()}
	m, err := NewMonitor(WithMonitorClock(clk), withSource(newChanSource()),
		withSleeper(func(context.Context) (sleeper, error) { return pw, nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitTimers(t, clk, 1)
	for i := 0; m.Describe() != "network: events; wake-ups: fake power feed"; i++ {
		if i > 5000 {
			t.Fatalf("Describe: %q", m.Describe())
		}
		time.Sleep(time.Millisecond)
	}
	pw.c <- "resumed" // reported at once, before any timer
	c := <-m.Changes()
	if c.Reason != "wake" || c.Detail != "resumed" {
		t.Errorf("got %+v, want the power feed's wake", c)
	}
	// Another sleep: the wake timer sees the clock jump first; the power feed's report of the
	// same wake-up is not another change.
	time.Sleep(20 * time.Millisecond)
	clk.Advance(20 * time.Minute)
	if c := <-m.Changes(); c.Reason != "wake" || c.Detail != "time jumped 20m0s" {
		t.Errorf("got %+v, want the clock's wake", c)
	}
	pw.c <- "resumed"
	waitTimers(t, clk, 1)
	clk.Advance(5 * time.Second)
	waitTimers(t, clk, 1)
	select {
	case c := <-m.Changes():
		t.Errorf("the same wake-up reported again: %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestMonitorNoPowerFeed: without a power feed, wake-ups are still found by the clock jump, and
// Describe says so.
func TestMonitorNoPowerFeed(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	m, err := NewMonitor(WithMonitorClock(clk), withSource(newChanSource()),
		withSleeper(func(context.Context) (sleeper, error) { return nil, errClosed }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitTimers(t, clk, 1)
	if got := m.Describe(); got != "network: events; wake-ups: clock jumps" {
		t.Errorf("Describe: %q", got)
	}
	clk.Advance(10 * time.Minute)
	if c := <-m.Changes(); c.Reason != "wake" {
		t.Errorf("got %+v, want a wake", c)
	}
}
