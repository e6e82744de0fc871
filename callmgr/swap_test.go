package callmgr

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/media"
)

// roomDevice is the user's microphone in one room: every call that opens it hears what is said
// there now, a tone of the frequency the test sets (0: silence). Its speaker discards.
type roomDevice struct{ hz atomic.Uint64 }

func (d *roomDevice) say(hz float64) { d.hz.Store(math.Float64bits(hz)) }

func (d *roomDevice) Name() string { return "room" }

func (d *roomDevice) Open(rate, frameSamples int) (media.Stream, error) {
	return &roomStream{d: d, rate: rate}, nil
}

type roomStream struct {
	d     *roomDevice
	rate  int
	mu    sync.Mutex
	phase float64
}

func (s *roomStream) Read(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	hz := math.Float64frombits(s.d.hz.Load())
	for i := range p {
		if hz == 0 {
			p[i] = 0
			continue
		}
		p[i] = int16(0.5 * 32767 * math.Sin(s.phase))
		s.phase = math.Mod(s.phase+2*math.Pi*hz/float64(s.rate), 2*math.Pi)
	}
	return nil
}

func (s *roomStream) Write([]int16) error { return nil }
func (s *roomStream) Close() error        { return nil }

// callState waits until call id of core c satisfies ok, polling its status (at least once); it
// reports whether it did within timeout.
func callState(c *core, id string, timeout time.Duration, ok func(phone.CallInfo) bool) (phone.CallInfo, bool) {
	var last phone.CallInfo
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		for _, ci := range c.mgr.Status().Calls {
			if ci.ID == id {
				last = ci
				if ok(ci) {
					return ci, true
				}
			}
		}
		if time.Now().After(deadline) {
			return last, false
		}
	}
}

// toneRuns counts the windows where freq sounds in the recording at path (toneWindows).
func toneRuns(t *testing.T, path string, freq float64) (on []bool, n int) {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	on = toneWindows(s, rate, freq, -50)
	for _, v := range on {
		if v {
			n++
		}
	}
	return on, n
}

// TestAnswerWaitingCallHoldsActive: B calls A and they talk (A's room says 697 Hz to B). C calls;
// A answers the waiting call, and says 1331 Hz to C. Answering first holds B's call: A shows it
// held, B sees a=sendonly (its call is held by the far end), and B never hears what A says to C.
// Then A resumes B's call, which holds C's the same way, and says 697 Hz to B again: B hears it,
// C does not.
func TestAnswerWaitingCallHoldsActive(t *testing.T) {
	checkGoroutines(t)
	room := &roomDevice{}
	a := startCore(t, "a", coreOpts{callWaiting: true, device: room})
	b := startCore(t, "b", coreOpts{toneHz: 604})
	c := startCore(t, "c", coreOpts{toneHz: 1004})
	const toB, toC = 697, 1331

	room.say(toB)
	ba, ab := established(t, b, a) // B's side, A's side
	aB := ab.ID
	time.Sleep(1500 * time.Millisecond)

	if _, err := c.mgr.Call(ctx(t), a.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	w := a.waitState(5*time.Second, phone.CallIncoming)
	room.say(0) // the user stops talking to click Answer
	if err := a.mgr.Answer(ctx(t), w.ID); err != nil {
		t.Fatalf("answer the waiting call: %v", err)
	}
	room.say(toC)
	if ci, ok := callState(a, aB, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallHeld && ci.LocalHold }); !ok {
		t.Errorf("A answered C: A's call with B is %s (local hold %v), want held", ci.State, ci.LocalHold)
	}
	if ci, ok := callState(b, ba.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.RemoteHold }); !ok {
		t.Errorf("A answered C: B's call is %s, remote hold %v; want held by the far end (a=sendonly)", ci.State, ci.RemoteHold)
	}
	if ci, ok := callState(a, w.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive }); !ok {
		t.Errorf("A answered C: C's call is %s, want active", ci.State)
	}
	time.Sleep(1500 * time.Millisecond)

	room.say(0)
	if err := a.mgr.Resume(ctx(t), aB); err != nil {
		t.Errorf("resume B's call: %v", err)
	}
	if ci, ok := callState(a, aB, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive }); !ok {
		t.Errorf("A resumed B's call: it is %s, want active", ci.State)
	}
	if ci, ok := callState(a, w.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallHeld && ci.LocalHold }); !ok {
		t.Errorf("A resumed B's call: C's call is %s (local hold %v), want held", ci.State, ci.LocalHold)
	}
	var cA string // C's ID of its call
	for _, ci := range c.mgr.Status().Calls {
		cA = ci.ID
	}
	if ci, ok := callState(c, cA, 5*time.Second, func(ci phone.CallInfo) bool { return ci.RemoteHold }); !ok {
		t.Errorf("A resumed B's call: C's call is %s, remote hold %v; want held by the far end", ci.State, ci.RemoteHold)
	}
	if ci, ok := callState(b, ba.ID, 5*time.Second, func(ci phone.CallInfo) bool { return !ci.RemoteHold && ci.State == phone.CallActive }); !ok {
		t.Errorf("A resumed B's call: B's call is %s, remote hold %v; want active", ci.State, ci.RemoteHold)
	}
	room.say(toB)
	time.Sleep(1500 * time.Millisecond)
	for _, id := range []string{aB, w.ID} {
		if err := a.mgr.Hangup(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitState(5*time.Second, phone.CallEnded)
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)

	bOnB, nB := toneRuns(t, b.out, toB)
	_, leakB := toneRuns(t, b.out, toC)
	_, nC := toneRuns(t, c.out, toC)
	_, leakC := toneRuns(t, c.out, toB)
	t.Logf("B heard %d windows of %d Hz (said to B), %d of %d Hz (said to C); C heard %d of %d Hz, %d of %d Hz",
		nB, toB, leakB, toC, nC, toC, leakC, toB)
	if leakB > 0 {
		t.Errorf("B (on hold) heard what A said to C: %d windows (%.2f s) of %d Hz", leakB, float64(leakB)*0.02, toC)
	}
	if leakC > 0 {
		t.Errorf("C (on hold after the swap) heard what A said to B: %d windows (%.2f s) of %d Hz", leakC, float64(leakC)*0.02, toB)
	}
	if nC < 40 {
		t.Errorf("C heard %d windows of %d Hz, want >= 40 (0.8 s of the 1.5 s A talked to C)", nC, toC)
	}
	// B hears A before the waiting call and again after the swap back: two runs of 700 Hz.
	var runs, late int
	for i, v := range bOnB {
		if v && (i == 0 || !bOnB[i-1]) {
			runs++
		}
		if v && runs >= 2 {
			late++
		}
	}
	if runs < 2 || late < 40 {
		t.Errorf("B heard %d runs of %d Hz, %d windows after the first; want A before the waiting call and >= 40 windows after the swap back", runs, toB, late)
	}
}

// TestRapidSwaps: the user swaps between two calls faster than the re-INVITEs complete. Every
// swap is taken (none refused as "in progress") and the far ends end up where the user left
// them: the last call resumed is active at both ends, the other held at both ends.
func TestRapidSwaps(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{callWaiting: true, device: &roomDevice{}})
	b := startCore(t, "b", coreOpts{toneHz: 604})
	c := startCore(t, "c", coreOpts{toneHz: 1004})
	ba, ab := established(t, b, a)
	if _, err := c.mgr.Call(ctx(t), a.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	w := a.waitState(5*time.Second, phone.CallIncoming)
	if err := a.mgr.Answer(ctx(t), w.ID); err != nil {
		t.Fatal(err)
	}
	last := w.ID
	for i := range 5 {
		id := ab.ID
		if i%2 == 1 {
			id = w.ID
		}
		if err := a.mgr.Resume(ctx(t), id); err != nil {
			t.Fatalf("swap %d to call %s: %v", i+1, id, err)
		}
		last = id
	}
	// Five swaps: B's call (ab) is the one resumed last.
	held := w.ID
	if last != ab.ID {
		t.Fatalf("test bug: last = %s", last)
	}
	var cID string
	for _, ci := range c.mgr.Status().Calls {
		cID = ci.ID
	}
	checks := []struct {
		who  *core
		id   string
		what string
		ok   func(phone.CallInfo) bool
	}{
		{a, last, "A: B's call active", func(ci phone.CallInfo) bool { return ci.State == phone.CallActive && !ci.LocalHold }},
		{a, held, "A: C's call held here", func(ci phone.CallInfo) bool { return ci.State == phone.CallHeld && ci.LocalHold }},
		{b, ba.ID, "B: its call active", func(ci phone.CallInfo) bool { return ci.State == phone.CallActive && !ci.RemoteHold }},
		{c, cID, "C: its call held by the far end", func(ci phone.CallInfo) bool { return ci.RemoteHold }},
	}
	for _, ck := range checks {
		if ci, ok := callState(ck.who, ck.id, 10*time.Second, ck.ok); !ok {
			t.Errorf("%s: got %s, local hold %v, remote hold %v", ck.what, ci.State, ci.LocalHold, ci.RemoteHold)
		}
	}
	// And it stays so: no re-INVITE left over flips it later.
	time.Sleep(time.Second)
	for _, ck := range checks {
		if ci, ok := callState(ck.who, ck.id, 0, ck.ok); !ok {
			t.Errorf("a second later, %s: got %s, local hold %v, remote hold %v", ck.what, ci.State, ci.LocalHold, ci.RemoteHold)
		}
	}
}

// TestWaitingCallHoldRefused: B's phone refuses re-INVITEs (488). A answers C's waiting call:
// B's call stays on hold at A all the same, A says B refused, and B never hears what A says to C.
func TestWaitingCallHoldRefused(t *testing.T) {
	checkGoroutines(t)
	room := &roomDevice{}
	a := startCore(t, "a", coreOpts{callWaiting: true, device: room})
	b := startCore(t, "b", coreOpts{toneHz: 604, beforeStart: func(ua *sipua.UA, m *Manager) {
		ua.Server.OnInvite(m.guard(func(req *sip.Request, tx sip.ServerTransaction) {
			if to := req.To(); to != nil && to.Params.Has("tag") {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
				return
			}
			m.handleInvite(req, tx)
		}))
	}})
	c := startCore(t, "c", coreOpts{toneHz: 1004})
	const toB, toC = 697, 1331

	room.say(toB)
	_, ab := established(t, b, a)
	time.Sleep(time.Second)
	if _, err := c.mgr.Call(ctx(t), a.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	w := a.waitState(5*time.Second, phone.CallIncoming)
	room.say(0)
	if err := a.mgr.Answer(ctx(t), w.ID); err != nil {
		t.Fatal(err)
	}
	room.say(toC)
	var warning string
	for deadline := time.After(5 * time.Second); warning == ""; {
		select {
		case ev := <-a.events:
			if ev.Type == phone.EventWarning && strings.Contains(ev.Message, "refused to hold") {
				warning = ev.Message
			}
		case <-deadline:
			t.Fatal("A did not say that B refused the hold")
		}
	}
	t.Logf("A says: %s", warning)
	if !strings.Contains(warning, "488") || !strings.Contains(warning, "stays on hold") {
		t.Errorf("warning %q: want the status and that the call stays on hold", warning)
	}
	if ci, ok := callState(a, ab.ID, 0, func(ci phone.CallInfo) bool { return ci.State == phone.CallHeld && ci.LocalHold }); !ok {
		t.Errorf("B refused the hold: A's call with B is %s (local hold %v), want held at A all the same", ci.State, ci.LocalHold)
	}
	time.Sleep(1500 * time.Millisecond)
	for _, id := range []string{ab.ID, w.ID} {
		if err := a.mgr.Hangup(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitState(5*time.Second, phone.CallEnded)
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	_, nB := toneRuns(t, b.out, toB)
	_, leak := toneRuns(t, b.out, toC)
	_, nC := toneRuns(t, c.out, toC)
	t.Logf("B heard %d windows of %d Hz and %d of %d Hz; C heard %d of %d Hz", nB, toB, leak, toC, nC, toC)
	if leak > 0 {
		t.Errorf("B refused the hold and heard what A said to C: %d windows of %d Hz", leak, toC)
	}
	if nB < 30 || nC < 40 {
		t.Errorf("B heard %d windows of %d Hz before, C %d of %d Hz: want both conversations heard (>= 30, >= 40)", nB, toB, nC, toC)
	}
}

// TestCallingOutHoldsActive: A talks with B (A's room says 697 Hz to B), then places a new call
// to C, which answers, and says 1331 Hz to C. Dialing out first holds B's call, as answering a
// waiting call does: A shows it held, B sees a=sendonly, and B never hears what A says to C.
func TestCallingOutHoldsActive(t *testing.T) {
	checkGoroutines(t)
	room := &roomDevice{}
	a := startCore(t, "a", coreOpts{callWaiting: true, device: room})
	b := startCore(t, "b", coreOpts{toneHz: 604})
	c := startCore(t, "c", coreOpts{toneHz: 1004})
	const toB, toC = 697, 1331

	room.say(toB)
	ab, ba := established(t, a, b)
	time.Sleep(time.Second)

	room.say(0) // the user stops talking to dial
	out, err := a.mgr.Call(ctx(t), c.ua.AOR(), "")
	if err != nil {
		t.Fatal(err)
	}
	if ci, ok := callState(a, ab.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallHeld && ci.LocalHold }); !ok {
		t.Errorf("A dialled C: A's call with B is %s (local hold %v), want held", ci.State, ci.LocalHold)
	}
	if ci, ok := callState(b, ba.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.RemoteHold }); !ok {
		t.Errorf("A dialled C: B's call is %s, remote hold %v; want held by the far end (a=sendonly)", ci.State, ci.RemoteHold)
	}
	in := c.waitState(5*time.Second, phone.CallIncoming)
	if err := c.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if ci, ok := callState(a, out.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive }); !ok {
		t.Fatalf("A's call to C is %s, want active", ci.State)
	}
	room.say(toC)
	time.Sleep(1500 * time.Millisecond)
	for _, id := range []string{ab.ID, out.ID} {
		if err := a.mgr.Hangup(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitState(5*time.Second, phone.CallEnded)
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	_, nB := toneRuns(t, b.out, toB)
	_, leak := toneRuns(t, b.out, toC)
	_, nC := toneRuns(t, c.out, toC)
	t.Logf("B heard %d windows of %d Hz and %d of %d Hz; C heard %d of %d Hz", nB, toB, leak, toC, nC, toC)
	if leak > 0 {
		t.Errorf("B heard what A said to C after A dialled C: %d windows (%.2f s) of %d Hz", leak, float64(leak)*0.02, toC)
	}
	if nB < 30 || nC < 40 {
		t.Errorf("B heard %d windows of %d Hz, C %d of %d Hz: want both conversations heard (>= 30, >= 40)", nB, toB, nC, toC)
	}
}
