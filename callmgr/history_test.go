package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/history"
	"trayphone/internal/phone"
)

func openHistory(t *testing.T) *history.Store {
	t.Helper()
	s, err := history.Open(t.TempDir(), testLogger(t, "history"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// summary lists a history as "direction/result" newest first.
func summary(h []phone.HistoryEntry) string {
	var out []string
	for _, e := range h {
		out = append(out, e.Direction.String()+"/"+e.Result)
	}
	return strings.Join(out, " ")
}

// waitHistory waits until c's history has n calls.
func waitHistory(t *testing.T, c *core, n int) []phone.HistoryEntry {
	t.Helper()
	var h []phone.HistoryEntry
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if h = c.mgr.History(); len(h) >= n {
			return h
		}
	}
	t.Fatalf("%s: history has %d calls, want %d: %s", c.name, len(h), n, summary(h))
	return nil
}

// TestHistoryResults: every way a call ends is filed with its result on both sides: answered,
// declined, cancelled / missed, busy (the far end in do not disturb: missed there), failed (no
// such user), and redial calls the latest outgoing call's remote.
func TestHistoryResults(t *testing.T) {
	checkGoroutines(t)
	ha, hb := openHistory(t), openHistory(t)
	a := startCore(t, "a", coreOpts{history: ha, callWaiting: true})
	b := startCore(t, "b", coreOpts{history: hb})

	ca, _ := established(t, a, b) // answered
	time.Sleep(1100 * time.Millisecond)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	waitHistory(t, a, 1)
	waitHistory(t, b, 1)

	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil { // declined
		t.Fatal(err)
	}
	in := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Hangup(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	waitHistory(t, a, 2)
	waitHistory(t, b, 2)

	out, err := a.mgr.Call(ctx(t), b.ua.AOR(), "") // cancelled here, missed there
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallIncoming)
	if err := a.mgr.Hangup(ctx(t), out.ID); err != nil {
		t.Fatal(err)
	}
	waitHistory(t, a, 3)
	waitHistory(t, b, 3)

	if err := b.mgr.SetDND(ctx(t), true); err != nil { // busy here, missed there
		t.Fatal(err)
	}
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	waitHistory(t, a, 4)
	waitHistory(t, b, 4)
	if err := b.mgr.SetDND(ctx(t), false); err != nil {
		t.Fatal(err)
	}

	nobody := strings.Replace(b.ua.AOR(), "sip:b@", "sip:nobody@", 1) // failed: 404
	if _, err := a.mgr.Call(ctx(t), nobody, ""); err != nil {
		t.Fatal(err)
	}
	h := waitHistory(t, a, 5)
	if got, want := summary(h), "outgoing/failed outgoing/busy outgoing/cancelled outgoing/declined outgoing/answered"; got != want {
		t.Errorf("A's history: %s, want %s", got, want)
	}
	if got, want := summary(waitHistory(t, b, 4)), "incoming/missed incoming/missed incoming/declined incoming/answered"; got != want {
		t.Errorf("B's history: %s, want %s", got, want)
	}
	if h[4].Duration < 1 || h[4].Remote != b.ua.AOR() || h[4].Start.IsZero() {
		t.Errorf("the answered call: %+v, want B's address, a start and >= 1 s", h[4])
	}
	if h[0].Remote != nobody || !strings.Contains(h[0].Reason, "does not exist") {
		t.Errorf("the failed call: %+v", h[0])
	}

	// Redial: the latest outgoing call's remote (the failed one).
	ci, err := a.mgr.Redial(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ci.Remote != nobody {
		t.Errorf("redial called %s, want %s", ci.Remote, nobody)
	}
	waitHistory(t, a, 6)
}
