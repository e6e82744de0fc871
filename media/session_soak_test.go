package media

import (
	"os"
	"testing"
	"time"

	"trayphone/internal/testenv"
)

// TestSessionTimingSoak is the hour-long version of TestSessionTiming (TRAYPHONE_SOAK=1; the
// length can be changed with TRAYPHONE_SOAK_DURATION, e.g. 10m): over a whole hour the RTP
// timestamp must not drift from the wall clock by more than one frame at the end, and the send
// schedule must not burst or gap. Percentiles are logged (TestSessionTiming asserts them).
func TestSessionTimingSoak(t *testing.T) {
	if !testenv.Soak() {
		t.Skip("soak test: set TRAYPHONE_SOAK=1")
	}
	run := time.Hour
	if d, err := time.ParseDuration(os.Getenv("TRAYPHONE_SOAK_DURATION")); err == nil && d > 0 {
		run = d
	}
	want := int(run / (20 * time.Millisecond))
	f := sessTiming(sessRecordSends(t, run))
	t.Logf("%v over %v", f, run)
	if f.endDrift.Abs() > 20*time.Millisecond {
		t.Errorf("after %v the RTP timestamp is %v off the wall clock, want within one frame", run, f.endDrift)
	}
	if f.maxInterval > 40*time.Millisecond && !sessRace {
		t.Errorf("an interval of %v: the sender stalled or burst", f.maxInterval)
	}
	if f.n < want*98/100 {
		t.Errorf("%d packets in %v, want about %d", f.n, run, want)
	}
}
