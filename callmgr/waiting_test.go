package callmgr

import (
	"math"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/media"
)

// waitingTone reports whether m plays the call-waiting tone in a call now.
func waitingTone(t *testing.T, m *Manager) bool {
	t.Helper()
	var on bool
	if err := m.do(ctx(t), func() error { on = m.waiting != nil && m.waiting.Playing(); return nil }); err != nil {
		t.Fatal(err)
	}
	return on
}

// toneWindows reports, for 40 ms windows one every 20 ms, whether freq sounds there as a tone:
// its level (Hann-windowed Goertzel, dBFS of a sine's peak) is above minDB and 10 dB above the
// level 80 Hz either side, so the fades and clicks of packet-loss concealment, which spread
// over the spectrum, do not count.
func toneWindows(s []int16, rate int, freq, minDB float64) []bool {
	win, step := rate*40/1000, rate*20/1000
	var out []bool
	for at := 0; at+win <= len(s); at += step {
		w := s[at : at+win]
		l := sineLevel(w, rate, freq)
		out = append(out, l > minDB && l > sineLevel(w, rate, freq-80)+10 && l > sineLevel(w, rate, freq+80)+10)
	}
	return out
}

// sineLevel estimates the peak of a sine at freq in s, in dB of full scale (Goertzel over a Hann
// window).
func sineLevel(s []int16, rate int, freq float64) float64 {
	n := len(s)
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for i, v := range s {
		hann := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		x := float64(v) / 32768 * hann
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	mag := math.Sqrt(max(s1*s1+s2*s2-coeff*s1*s2, 0))
	return 20 * math.Log10(4*mag/float64(n)+1e-12)
}

// bursts returns the windows where a run of tone windows starts.
func bursts(on []bool) []int {
	var out []int
	for i, v := range on {
		if v && (i == 0 || !on[i-1]) {
			out = append(out, i)
		}
	}
	return out
}

// TestCallWaitingToneInCall: A talks with B (A hears B's 600 Hz) when C calls A and rings for
// 2.3 s, then gives up (its ring timeout). A's speaker (its recording) carries the UK
// call-waiting tone (400 Hz, 100 ms every 2.1 s) over B's voice while C rings, and not after; B
// never hears it. Then the tone stops when a waiting call is declined, cancelled or answered,
// and stays out of the call while A holds it (the ringer plays it then).
func TestCallWaitingToneInCall(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{toneHz: 1004, callWaiting: true, toneRegion: media.RegionUK})
	b := startCore(t, "b", coreOpts{toneHz: 604})
	c := startCore(t, "c", coreOpts{toneHz: 1400, ringTimeout: 2300 * time.Millisecond})
	ab, _ := established(t, a, b)
	activeAt := time.Now() // A's device opened just before: its recording starts about here
	time.Sleep(700 * time.Millisecond)

	if _, err := c.mgr.Call(ctx(t), a.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	waiting := a.waitState(5*time.Second, phone.CallIncoming)
	ringAt := time.Now()
	if !waitingTone(t, a.mgr) {
		t.Errorf("C rings during A's call: no call-waiting tone in the call")
	}
	a.wait(5*time.Second, "the waiting call to time out", func(ci phone.CallInfo) bool { return ci.ID == waiting.ID && ci.State == phone.CallEnded })
	rang := time.Since(ringAt)
	if waitingTone(t, a.mgr) {
		t.Errorf("the waiting call timed out: the call-waiting tone still plays")
	}
	// Long enough after the stop for a third burst (4.2 s after the first) to be due.
	time.Sleep(2300 * time.Millisecond)
	if err := a.mgr.Hangup(ctx(t), ab.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)

	// The tone's cadence runs on the frames A plays, and so does A's recording: in it the bursts
	// are exactly 2.1 s (105 windows) apart even when a loaded machine makes the call skip
	// frames; the wall clock only bounds where the first one is.
	s, rate, err := audiotest.ReadWAVMono(a.out)
	if err != nil {
		t.Fatal(err)
	}
	on := toneWindows(s, rate, 400, -32)
	got := bursts(on)
	ringFrom := int(ringAt.Sub(activeAt) / (20 * time.Millisecond))
	t.Logf("A's recording: %.2f s, %d windows; C rang %v from window ≤ %d; 400 Hz bursts start at %v",
		float64(len(s))/float64(rate), len(on), rang.Round(time.Millisecond), ringFrom, got)
	if len(got) != 2 {
		t.Fatalf("A hears %d bursts of 400 Hz, want 2 (when C starts ringing and 2.1 s later)", len(got))
	}
	if got[0] < 10 || got[0] > ringFrom+15 {
		t.Errorf("the first burst starts at window %d, want it when C started ringing (window 10 to %d)", got[0], ringFrom+15)
	}
	if gap := got[1] - got[0]; gap < 104 || gap > 106 {
		t.Errorf("bursts %d windows apart, want 105 (2.1 s): the UK cadence", gap)
	}
	for _, b := range got {
		n := 0
		for i := b; i < len(on) && on[i]; i++ {
			n++
		}
		if n < 4 || n > 7 { // 100 ms seen through 40 ms windows
			t.Errorf("the burst at window %d is %d windows long, want 100 ms (5-6 windows)", b, n)
		}
	}
	if due := got[0] + 210; len(on) < due+10 {
		t.Errorf("A's recording ends at window %d, before a third burst would be due (%d): cannot tell the tone stopped", len(on), due)
	}
	// The tone is modest: B's voice stays what A mostly hears during a burst.
	from := time.Duration(got[0]) * 20 * time.Millisecond
	an := audiotest.Analyze(audiotest.Trim(s, rate, from, from+100*time.Millisecond), rate)
	if d := an.DominantHz - 600; d > 5 || d < -5 {
		t.Errorf("during a burst A mostly hears %.1f Hz, want B's 600 Hz", an.DominantHz)
	}
	if l := sineLevel(audiotest.Trim(s, rate, from+20*time.Millisecond, from+80*time.Millisecond), rate, 400); l < -23 || l > -17 {
		t.Errorf("the call-waiting tone in the call peaks at %.1f dBFS, want -20 dBFS (E.180's level, -6 dB)", l)
	}

	// B's recording: A's 1000 Hz, never 400 Hz.
	s, rate, err = audiotest.ReadWAVMono(b.out)
	if err != nil {
		t.Fatal(err)
	}
	if got := bursts(toneWindows(s, rate, 400, -50)); len(got) > 0 {
		t.Errorf("B hears 400 Hz at windows %v: the call-waiting tone leaked to the far end", got)
	}
	checkTone(t, b.out, 1004, 20)

	// Declined, cancelled, answered: the tone stops; while A holds its call it stays out of it.
	ab, _ = established(t, a, b)
	var cID string // C's side of the waiting call
	ring := func() phone.CallInfo {
		t.Helper()
		cc, err := c.mgr.Call(ctx(t), a.ua.AOR(), "")
		if err != nil {
			t.Fatal(err)
		}
		cID = cc.ID
		ci := a.waitState(5*time.Second, phone.CallIncoming)
		if !waitingTone(t, a.mgr) {
			t.Errorf("C rings during A's call: no call-waiting tone in the call")
		}
		return ci
	}
	ended := func(id, how string) {
		t.Helper()
		a.wait(5*time.Second, "call "+id+" to end", func(ci phone.CallInfo) bool { return ci.ID == id && ci.State == phone.CallEnded })
		// C's own call, by its ID: an older call's end may still be queued in C's events.
		c.wait(5*time.Second, "C's call "+cID+" to end", func(ci phone.CallInfo) bool { return ci.ID == cID && ci.State == phone.CallEnded })
		if waitingTone(t, a.mgr) {
			t.Errorf("the waiting call %s: the call-waiting tone still plays", how)
		}
	}
	w := ring()
	if err := a.mgr.Hangup(ctx(t), w.ID); err != nil {
		t.Fatal(err)
	}
	ended(w.ID, "was declined")

	w = ring()
	if err := c.mgr.Hangup(ctx(t), cID); err != nil {
		t.Fatal(err)
	}
	ended(w.ID, "was cancelled")

	w = ring()
	if err := a.mgr.Answer(ctx(t), w.ID); err != nil {
		t.Fatal(err)
	}
	a.wait(5*time.Second, "the waiting call answered", func(ci phone.CallInfo) bool { return ci.ID == w.ID && ci.State == phone.CallActive })
	if waitingTone(t, a.mgr) {
		t.Errorf("the waiting call was answered: the call-waiting tone still plays")
	}
	if err := a.mgr.Hangup(ctx(t), w.ID); err != nil {
		t.Fatal(err)
	}
	c.wait(5*time.Second, "C's call "+cID+" to end", func(ci phone.CallInfo) bool { return ci.ID == cID && ci.State == phone.CallEnded })

	if err := a.mgr.Hold(ctx(t), ab.ID); err != nil {
		t.Fatal(err)
	}
	a.wait(5*time.Second, "the call held", func(ci phone.CallInfo) bool { return ci.ID == ab.ID && ci.LocalHold })
	if _, err := c.mgr.Call(ctx(t), a.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	w = a.waitState(5*time.Second, phone.CallIncoming)
	if waitingTone(t, a.mgr) {
		t.Errorf("C rings while A holds its only call: the tone plays in the held call, want it on the ringer")
	}
	if err := a.mgr.Hangup(ctx(t), w.ID); err != nil {
		t.Fatal(err)
	}
}
