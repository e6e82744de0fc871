package callmgr

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/media"
)

// perCallFiles is a file audio device that records each call it is opened for to a file of its
// own (out-1.wav, out-2.wav, ...), so a phone with two calls in turn keeps both recordings.
type perCallFiles struct {
	in, dir string
	mu      sync.Mutex
	n       int
}

func newPerCallFiles(t *testing.T, hz float64) *perCallFiles {
	t.Helper()
	d := &perCallFiles{in: filepath.Join(t.TempDir(), "in.wav"), dir: t.TempDir()}
	if err := audiotest.WriteTone(d.in, hz, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *perCallFiles) Name() string { return "per-call files" }

func (d *perCallFiles) Open(rate, frameSamples int) (media.Stream, error) {
	d.mu.Lock()
	d.n++
	out := d.out(d.n)
	d.mu.Unlock()
	f, err := media.NewFile(d.in, out)
	if err != nil {
		return nil, err
	}
	return f.Open(rate, frameSamples)
}

// out is the recording of the n-th call the device was opened for.
func (d *perCallFiles) out(n int) string { return filepath.Join(d.dir, fmt.Sprintf("out-%d.wav", n)) }

// opened is how many times the device was opened.
func (d *perCallFiles) opened() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// ended waits until call id of c has ended (is no longer listed); it returns the call as last
// listed and whether it ended within timeout.
func ended(c *core, id string, timeout time.Duration) (phone.CallInfo, bool) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		var found *phone.CallInfo
		for _, ci := range c.mgr.Status().Calls {
			if ci.ID == id {
				found = &ci
			}
		}
		if found == nil {
			return phone.CallInfo{}, true
		}
		if time.Now().After(deadline) {
			return *found, false
		}
	}
}

// transferStates collects the transfer states of call id from c's events until one is final or
// timeout passes.
func transferStates(t *testing.T, c *core, id string, timeout time.Duration) []string {
	t.Helper()
	var states []string
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-c.events:
			if ev.Type != phone.EventTransfer || ev.Call == nil || ev.Call.ID != id || ev.Call.Transfer == nil {
				continue
			}
			s := ev.Call.Transfer.State
			if len(states) == 0 || states[len(states)-1] != s {
				states = append(states, s)
			}
			if s == "succeeded" || s == "failed" {
				return states
			}
		case <-deadline:
			t.Errorf("%s: transfer of call %s did not finish within %s: %v", c.name, id, timeout, states)
			return states
		}
	}
}

// TestBlindTransfer: A talks with B and transfers B to C (REFER, Refer-To C). B (transferee)
// accepts it, holds A, calls C; C rings and answers; B's call with A ends, and so does A's. A's
// event stream follows the transfer from B's NOTIFYs: trying, ringing, succeeded. B and C then
// talk: each hears the other's tone cleanly.
func TestBlindTransfer(t *testing.T) {
	checkGoroutines(t)
	bDev, cDev := newPerCallFiles(t, 604), newPerCallFiles(t, 1400)
	a := startCore(t, "a", coreOpts{toneHz: 1004})
	b := startCore(t, "b", coreOpts{callWaiting: true, device: bDev})
	c := startCore(t, "c", coreOpts{device: cDev})

	ab, ba := established(t, a, b)
	time.Sleep(500 * time.Millisecond)
	info, err := a.mgr.Transfer(ctx(t), ab.ID, c.ua.AOR(), "")
	if err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if info.Transfer == nil || info.Transfer.Role != "transferor" || info.Transfer.Target != c.ua.AOR() {
		t.Errorf("transfer snapshot %+v, want transferor to %s", info.Transfer, c.ua.AOR())
	}
	in := c.waitState(5*time.Second, phone.CallIncoming)
	time.Sleep(300 * time.Millisecond) // ringing, as the transferor sees it
	if err := c.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	states := transferStates(t, a, ab.ID, 10*time.Second)
	if strings.Join(states, ",") != "trying,ringing,succeeded" {
		t.Errorf("A saw the transfer go %v, want trying, ringing, succeeded", states)
	}
	if ci, ok := ended(b, ba.ID, 5*time.Second); !ok {
		t.Errorf("B's call with A is still %s after the transfer", ci.State)
	}
	var bc phone.CallInfo
	for _, ci := range b.mgr.Status().Calls {
		bc = ci
	}
	if bc.State != phone.CallActive || bc.Remote != c.ua.AOR() {
		t.Fatalf("B's calls after the transfer: %+v, want one active call with %s", b.mgr.Status().Calls, c.ua.AOR())
	}
	var ended phone.CallInfo
	for _, h := range a.mgr.Recent() {
		if h.ID == ab.ID {
			ended = h
		}
	}
	if !strings.Contains(ended.EndReason, "transferred to") {
		t.Errorf("A's call ended with %q, want transferred", ended.EndReason)
	}
	for _, h := range b.mgr.Recent() {
		if h.ID == ba.ID && (h.Transfer == nil || h.Transfer.Role != "transferee" || h.Transfer.State != "succeeded" || h.Transfer.NewCall != bc.ID) {
			t.Errorf("B's transferred call: transfer %+v, want transferee, succeeded, new call %s", h.Transfer, bc.ID)
		}
	}
	time.Sleep(2 * time.Second)
	logMedia(t, b, c)
	if err := b.mgr.Hangup(ctx(t), bc.ID); err != nil {
		t.Fatal(err)
	}
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	if n := bDev.opened(); n != 2 || cDev.opened() != 1 {
		t.Fatalf("B's device opened %d times, C's %d; want 2 (A, then C) and 1", n, cDev.opened())
	}
	checkTone(t, bDev.out(2), 1400, 30) // B hears C
	checkTone(t, cDev.out(1), 604, 30)  // C hears B
}

// TestAttendedTransfer: A talks with B, calls C (which holds B's call), talks with C, then
// transfers B to C (REFER with Replaces of A's call with C). B calls C with Replaces; C answers
// at once, without ringing, and ends its call with A; A's two calls end. B and C then talk.
func TestAttendedTransfer(t *testing.T) {
	checkGoroutines(t)
	bDev, cDev := newPerCallFiles(t, 604), newPerCallFiles(t, 1400)
	a := startCore(t, "a", coreOpts{toneHz: 1004, callWaiting: true, device: &roomDevice{}})
	b := startCore(t, "b", coreOpts{callWaiting: true, device: bDev})
	c := startCore(t, "c", coreOpts{callWaiting: true, device: cDev})

	ab, _ := established(t, a, b)
	ac, ca := established(t, a, c) // consultation: B's call is held
	if ci, ok := callState(a, ab.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.LocalHold }); !ok {
		t.Errorf("A called C: the call with B is %s, want held", ci.State)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := a.mgr.Transfer(ctx(t), ab.ID, "", ac.ID); err != nil {
		t.Fatalf("attended transfer: %v", err)
	}
	states := transferStates(t, a, ab.ID, 10*time.Second)
	if states[len(states)-1] != "succeeded" {
		t.Errorf("A saw the transfer go %v, want it to succeed", states)
	}
	for _, id := range []string{ab.ID, ac.ID} {
		if ci, ok := ended(a, id, 5*time.Second); !ok {
			t.Errorf("A's call %s is still %s after the transfer", id, ci.State)
		}
	}
	var cb phone.CallInfo
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if calls := c.mgr.Status().Calls; len(calls) == 1 && calls[0].ID != ca.ID {
			cb = calls[0]
			break
		}
	}
	if cb.State != phone.CallActive || cb.Direction != phone.Incoming {
		t.Fatalf("C's calls after the transfer: %+v, want one active incoming call from B in place of A's", c.mgr.Status().Calls)
	}
	for _, h := range c.mgr.Recent() {
		if h.ID == cb.ID && h.Result == phone.ResultMissed {
			t.Errorf("C's replacing call was filed as missed")
		}
		if h.ID == ca.ID && !strings.Contains(h.EndReason, "replaced") {
			t.Errorf("C's call with A ended with %q, want replaced", h.EndReason)
		}
	}
	time.Sleep(2 * time.Second)
	logMedia(t, b, c)
	if err := c.mgr.Hangup(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	if bDev.opened() != 2 || cDev.opened() != 2 {
		t.Fatalf("B's device opened %d times, C's %d; want 2 each", bDev.opened(), cDev.opened())
	}
	checkTone(t, bDev.out(2), 1400, 30) // B hears C
	checkTone(t, cDev.out(2), 604, 30)  // C hears B
}
