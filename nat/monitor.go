package nat

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// Monitor reports network changes and wake from sleep. Each OS has its own feeds behind the same
// two small interfaces (source for the network, sleeper for power), one file per OS:
//
//   - Linux: rtnetlink address, route and link notifications (monitor_linux.go) and logind's
//     PrepareForSleep signal on the system bus (sleep_linux.go).
//   - macOS: the routing socket's RTM_NEWADDR/RTM_DELADDR/RTM_ADD/RTM_DELETE messages
//     (monitor_darwin.go); wake-ups by IOKit's IORegisterForSystemPower is planned (it needs cgo
//     and a CFRunLoop thread), the clock jump stands in for it.
//   - Windows: NotifyIpInterfaceChange and NotifyRouteChange2 (planned, monitor_windows.go) and
//     WM_POWERBROADCAST / PowerRegisterSuspendResumeNotification (planned).
//   - Elsewhere, or with the trayphone_netpoll build tag: the interface addresses polled every
//     few seconds (netpoll.go).
//
// Everywhere, a wall clock that jumped past the wake timer also counts as a wake-up: the fallback
// when there is no power notification (no logind, a VM that was paused).
type Monitor struct {
	clk       clock.Clock
	src       source
	openSleep func(context.Context) (sleeper, error) // nil: wake-ups only by the clock jump
	log       *slog.Logger
	wakeEvery time.Duration
	debounce  time.Duration
	out       chan Change
	wakeBy    atomic.Pointer[string]
}

// source is an OS network-change feed. Next blocks until something changed and says what; it
// returns an error once Close was called.
type source interface {
	Next() (string, error)
	Close() error
}

// sleeper is an OS power feed. Next blocks until the machine woke from sleep and says how it
// knows; it returns an error once Close was called or the feed ended.
type sleeper interface {
	Next() (string, error)
	Close() error
}

// MonitorOption changes a Monitor for tests.
type MonitorOption func(*Monitor)

// WithMonitorClock sets the clock used for wake detection, polling and debouncing.
func WithMonitorClock(c clock.Clock) MonitorOption { return func(m *Monitor) { m.clk = c } }

// WithMonitorLog sets the logger that says how wake-ups are noticed.
func WithMonitorLog(l *slog.Logger) MonitorOption { return func(m *Monitor) { m.log = l } }

// withSource replaces the OS network feed; without withSleeper the fake has no power feed.
func withSource(s source) MonitorOption {
	return func(m *Monitor) { m.src, m.openSleep = s, nil }
}

// withSleeper replaces the OS power feed.
func withSleeper(open func(context.Context) (sleeper, error)) MonitorOption {
	return func(m *Monitor) { m.openSleep = open }
}

// NewMonitor opens the OS network feed now (so it watches the network namespace of the calling
// thread), or falls back to polling the interface addresses when the OS feed cannot be opened.
// The power feed is opened by Run, which is where a slow system bus may keep it.
func NewMonitor(opts ...MonitorOption) (*Monitor, error) {
	m := &Monitor{clk: clock.Real{}, wakeEvery: 5 * time.Second, debounce: 250 * time.Millisecond, out: make(chan Change, 1),
		openSleep: openOSSleeper, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(m)
	}
	if m.src == nil {
		s, err := newOSSource(m.clk)
		if err != nil {
			// No OS notifications (a sandbox without netlink, Wine): polling still notices.
			m.log.Warn("no network change notifications; polling the interface addresses instead", "err", err)
			s = newPollSource(m.clk, nil)
		}
		m.src = s
	}
	m.setWakeBy("clock jumps")
	return m, nil
}

// Describe says how changes are noticed, e.g. "network: netlink; wake-ups: logind".
func (m *Monitor) Describe() string {
	return "network: " + sourceName(m.src) + "; wake-ups: " + *m.wakeBy.Load()
}

func (m *Monitor) setWakeBy(s string) { m.wakeBy.Store(&s) }

// sourceName names a network feed for status.
func sourceName(s source) string {
	if n, ok := s.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "events"
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
	wakes := make(chan string, 1)
	if m.openSleep != nil {
		wg.Add(1)
		// This goroutine opens and reads the power feed; it returns when the feed fails or
		// ctx ends (the feed is then closed).
		go func() {
			defer wg.Done()
			m.readSleeper(ctx, wakes)
		}()
	}
	defer func() {
		m.src.Close()
		wg.Wait()
	}()

	wake := m.clk.NewTimer(m.wakeEvery)
	defer wake.Stop()
	last := m.clk.Now().Round(0) // wall clock, no monotonic reading
	var woke time.Time           // when the last wake-up was reported
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
		case how := <-wakes:
			now := m.clk.Now().Round(0)
			// The wake timer may have seen the same wake-up's clock jump first.
			if woke.IsZero() || now.Sub(woke) > 3*m.wakeEvery {
				m.emit(Change{Time: now, Reason: "wake", Detail: how})
				woke = now
			}
			last = now // the clock jump of the same wake-up is not another one
		case <-wake.C():
			now := m.clk.Now().Round(0)
			if gap := now.Sub(last); gap > 3*m.wakeEvery {
				m.emit(Change{Time: now, Reason: "wake", Detail: "time jumped " + gap.Round(time.Second).String()})
				woke = now
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

// readSleeper opens the power feed and passes its wake-ups on (dropping one while another is
// pending: it covers it). It returns when ctx ends or the feed fails; wake-ups are then noticed by
// the clock jump alone.
func (m *Monitor) readSleeper(ctx context.Context, wakes chan<- string) {
	s, err := m.openSleep(ctx)
	if err != nil {
		m.log.Info("wake-ups noticed by the clock jumping (no power notifications)", "err", err)
		return
	}
	name := sourceName(s)
	m.setWakeBy(name)
	m.log.Info("wake-ups noticed through " + name)
	var once sync.Once
	closeFeed := func() { once.Do(func() { s.Close() }) }
	stop := context.AfterFunc(ctx, closeFeed)
	defer func() { stop(); closeFeed() }()
	for {
		how, err := s.Next()
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("power notifications stopped; wake-ups noticed by the clock jumping", "err", err)
			}
			m.setWakeBy("clock jumps")
			return
		}
		select {
		case wakes <- how:
		default:
		}
	}
}
