package media

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// sessTimingFigures summarises when the packets of a 20 ms stream left.
type sessTimingFigures struct {
	n                 int
	p50, p99, maxDev  time.Duration // |interval - 20 ms|
	maxInterval       time.Duration
	p99Drift, maxDrft time.Duration // |elapsed wall clock - elapsed by RTP timestamp|
	endDrift          time.Duration
}

func sessTiming(at []time.Time, ts []uint32) sessTimingFigures {
	var devs, drifts []time.Duration
	f := sessTimingFigures{n: len(at)}
	for i := range at {
		elapsed := at[i].Sub(at[0])
		byTS := time.Duration(ts[i]-ts[0]) * time.Second / 8000
		drifts = append(drifts, (elapsed - byTS).Abs())
		f.endDrift = elapsed - byTS
		if i == 0 {
			continue
		}
		iv := at[i].Sub(at[i-1])
		f.maxInterval = max(f.maxInterval, iv)
		devs = append(devs, (iv - 20*time.Millisecond).Abs())
	}
	slices.Sort(devs)
	slices.Sort(drifts)
	pct := func(d []time.Duration, p float64) time.Duration { return d[int(p*float64(len(d)-1))] }
	f.p50, f.p99, f.maxDev = pct(devs, 0.5), pct(devs, 0.99), devs[len(devs)-1]
	f.p99Drift, f.maxDrft = pct(drifts, 0.99), drifts[len(drifts)-1]
	return f
}

// check returns what is out of bounds: p99 of |interval-20ms| over 2 ms, an interval over 40 ms,
// the timestamp more than one frame off the wall clock (p99), packets missing.
func (f sessTimingFigures) check(want int) []string {
	var bad []string
	if f.p99 > 2*time.Millisecond {
		bad = append(bad, "p99 of |interval-20ms| "+f.p99.String()+" > 2ms")
	}
	if f.maxInterval > 40*time.Millisecond {
		bad = append(bad, "max interval "+f.maxInterval.String()+" > 40ms")
	}
	if f.p99Drift > 20*time.Millisecond {
		bad = append(bad, "p99 timestamp drift "+f.p99Drift.String()+" > 20ms")
	}
	if f.n < want*98/100 {
		bad = append(bad, "too few packets")
	}
	return bad
}

func (f sessTimingFigures) String() string {
	return fmt.Sprintf("%d packets: |interval-20ms| p50 %v p99 %v max %v; max interval %v; timestamp vs clock: p99 %v max %v, at the end %v",
		f.n, f.p50, f.p99, f.maxDev, f.maxInterval, f.p99Drift, f.maxDrft, f.endDrift)
}

// TestSessionTiming runs a session on the real clock for 10 s and measures, at the sender, the
// interval between packets and how the RTP timestamp follows the wall clock. It asserts on
// percentiles. Beside it runs a control: a bare timer loop on the same absolute schedule. When
// the control misses the same bounds the machine is too loaded to judge the session (the CI VM
// is shared, 2 cores) and the test skips with both sets of figures; under the race detector it
// only logs.
func TestSessionTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of real time")
	}
	sessCheckNoLeak(t)
	const run = 10 * time.Second
	want := int(run / (20 * time.Millisecond))

	// The control: the same schedule with nothing but a timer.
	var wg sync.WaitGroup
	ctlAt := make([]time.Time, 0, want)
	ctlTS := make([]uint32, 0, want)
	wg.Add(1)
	go func() { // returns after want ticks
		defer wg.Done()
		start := time.Now()
		tm := time.NewTimer(time.Hour)
		for n := range want {
			tm.Reset(time.Until(start.Add(time.Duration(n) * 20 * time.Millisecond)))
			<-tm.C
			ctlAt = append(ctlAt, time.Now())
			ctlTS = append(ctlTS, uint32(n*160))
		}
	}()

	at, ts := sessRecordSends(t, run)
	wg.Wait()
	if len(at) < 100 {
		t.Fatalf("got %d packets in %v, want about %d", len(at), run, want)
	}

	got, ctl := sessTiming(at, ts), sessTiming(ctlAt, ctlTS)
	t.Logf("session: %v", got)
	t.Logf("control: %v", ctl)
	bad := got.check(want)
	switch {
	case sessRace:
		t.Logf("race detector on: figures logged, not asserted (out of bounds: %q)", bad)
	case len(bad) > 0 && len(ctl.check(want)) > 0:
		t.Skipf("machine too loaded to judge: the control timer loop misses the bounds too (session: %q)", bad)
	default:
		for _, b := range bad {
			t.Error(b)
		}
	}
}

// sessRecordSends runs a session sending a 1 kHz tone on the real clock for run and returns when
// each packet was sent and with which RTP timestamp, as the send observer saw them.
func sessRecordSends(t *testing.T, run time.Duration) (at []time.Time, ts []uint32) {
	t.Helper()
	n := int(run/(20*time.Millisecond)) + 500
	at, ts = make([]time.Time, 0, n), make([]uint32, 0, n)
	observe := func(now time.Time, _ uint16, t uint32) {
		if len(at) < cap(at) {
			at = append(at, now)
			ts = append(ts, t)
		}
	}
	conn, sink := sessListen(t), sessListen(t)
	defer sink.Close()
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(sink), Stream: newSessToneStream(1000)},
		WithSendObserver(observe))
	s.Start()
	time.Sleep(run)
	s.Close() // waits for the send goroutine: at and ts are ours now
	return at, ts
}
