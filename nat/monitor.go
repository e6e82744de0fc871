package nat

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"trayphone/internal/clock"
)

// Change is a reason to look at the network again: our addresses or routes changed, or the machine
// woke from sleep (NAT bindings and maybe the network itself are gone).
type Change struct {
	Time   time.Time
	Reason string // "network" or "wake"
	Detail string // e.g. "address added", "time jumped 10m0s"
}

// Watcher is what callers need from a Monitor.
type Watcher interface {
	Changes() <-chan Change
}

// Monitor reports network changes (netlink on Linux, address polling elsewhere or with the
// trayphone_netpoll build tag) and wake from sleep (the wall clock jumped past a timer).
type Monitor struct {
	clk       clock.Clock
	src       source
	wakeEvery time.Duration
	debounce  time.Duration
	out       chan Change
	closeOnce sync.Once
}

// source is an OS network-change feed. Next blocks until something changed and says what; it
// returns an error once Close was called.
type source interface {
	Next() (string, error)
	Close() error
}

// MonitorOption changes a Monitor for tests.
type MonitorOption func(*Monitor)

// WithMonitorClock sets the clock used for wake detection, polling and debouncing.
func WithMonitorClock(c clock.Clock) MonitorOption { return func(m *Monitor) { m.clk = c } }

// withSource replaces the OS feed.
func withSource(s source) MonitorOption { return func(m *Monitor) { m.src = s } }

// NewMonitor opens the OS feed now (so it watches the network namespace of the calling thread).
func NewMonitor(opts ...MonitorOption) (*Monitor, error) {
	m := &Monitor{clk: clock.Real{}, wakeEvery: 5 * time.Second, debounce: 250 * time.Millisecond, out: make(chan Change, 1)}
	for _, o := range opts {
		o(m)
	}
	if m.src == nil {
		s, err := newOSSource(m.clk)
		if err != nil {
			return nil, errf("watch the network: %w", err)
		}
		m.src = s
	}
	return m, nil
}

// Changes delivers changes; a slow reader misses none that matter, because changes that arrive
// while one is waiting to be read are merged into it.
func (m *Monitor) Changes() <-chan Change { return m.out }

// Run watches until ctx is done, then closes the OS feed and returns nil.
func (m *Monitor) Run(ctx context.Context) error {
	events := make(chan string, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	// This goroutine reads the OS feed; it returns when the feed is closed below.
	go func() {
		defer wg.Done()
		for {
			what, err := m.src.Next()
			if err != nil {
				return
			}
			select {
			case events <- what:
			default: // a change is already pending; it covers this one
			}
		}
	}()
	defer func() {
		m.src.Close()
		wg.Wait()
	}()

	wake := m.clk.NewTimer(m.wakeEvery)
	defer wake.Stop()
	last := m.clk.Now().Round(0) // wall clock, no monotonic reading
	var settle clock.Timer
	var settleC <-chan time.Time
	var pending []string
	for {
		select {
		case <-ctx.Done():
			if settle != nil {
				settle.Stop()
			}
			return nil
		case what := <-events:
			if !slices.Contains(pending, what) {
				pending = append(pending, what)
			}
			if settle == nil {
				settle = m.clk.NewTimer(m.debounce)
				settleC = settle.C()
			}
		case <-settleC:
			settle, settleC = nil, nil
			// Changes that arrived together with the timer belong to this burst.
			for drained := false; !drained; {
				select {
				case what := <-events:
					if !slices.Contains(pending, what) {
						pending = append(pending, what)
					}
				default:
					drained = true
				}
			}
			m.emit(Change{Time: m.clk.Now(), Reason: "network", Detail: strings.Join(pending, ", ")})
			pending = nil
		case <-wake.C():
			now := m.clk.Now().Round(0)
			if gap := now.Sub(last); gap > 3*m.wakeEvery {
				m.emit(Change{Time: now, Reason: "wake", Detail: "time jumped " + gap.Round(time.Second).String()})
			}
			last = now
			wake.Reset(m.wakeEvery)
		}
	}
}

// emit replaces a change nobody has read yet with the newer one.
func (m *Monitor) emit(c Change) {
	for {
		select {
		case m.out <- c:
			return
		default:
		}
		select {
		case old := <-m.out:
			if old.Reason == "wake" {
				c.Reason = "wake"
			}
		default:
		}
	}
}
