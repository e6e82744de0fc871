package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/testenv"
)

// TestBaresipTransfersUs: a real baresip (bob) talks with trayphone (alice) and transfers her to
// carol with its /transfer command (a REFER). Alice accepts, calls carol, and her call with bob
// ends when carol answers; bob takes alice's NOTIFYs (trying, then 200 OK) with 200 OK.
// Alice and carol then talk: each hears the other's tone.
func TestBaresipTransfersUs(t *testing.T) {
	checkGoroutines(t)
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004})
	aDev, cDev := newPerCallFiles(t, 604), newPerCallFiles(t, 1400)
	var aliceLog testenv.Buffer
	alice := startCore(t, "alice", coreOpts{callWaiting: true, device: aDev, logTo: &aliceLog})
	carol := startCore(t, "carol", coreOpts{device: cDev})

	if _, err := alice.mgr.Call(ctx(t), bob.URI(), ""); err != nil {
		t.Fatal(err)
	}
	ab := alice.waitState(10*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := bob.Command("transfer", carol.ua.AOR()); err != nil {
		t.Fatalf("baresip transfer: %v", err)
	}
	in := carol.waitState(10*time.Second, phone.CallIncoming)
	if err := carol.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if ci, ok := ended(alice, ab.ID, 5*time.Second); !ok {
		t.Errorf("alice's call with bob is still %s after the transfer", ci.State)
	}
	var ac phone.CallInfo
	for _, ci := range alice.mgr.Status().Calls {
		ac = ci
	}
	if ac.State != phone.CallActive || ac.Remote != carol.ua.AOR() {
		t.Fatalf("alice's calls after the transfer: %+v, want one active call with carol", alice.mgr.Status().Calls)
	}
	for _, h := range alice.mgr.Recent() {
		if h.ID == ab.ID && (h.Transfer == nil || h.Transfer.State != "succeeded" || !strings.Contains(h.EndReason, "transferred")) {
			t.Errorf("alice's call with bob ended %q, transfer %+v; want transferred, succeeded", h.EndReason, h.Transfer)
		}
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Error(err)
	}
	time.Sleep(2 * time.Second)
	logMedia(t, alice, carol)
	if err := carol.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	alice.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	if l := grepLines(aliceLog.String(), "transfer progress"); l != "" {
		t.Errorf("bob did not take alice's NOTIFYs:\n%s", l)
	}
	if !strings.Contains(aliceLog.String(), "transfer done: the target answered") {
		t.Errorf("alice's log does not say the transfer was done:\n%s", aliceLog.String())
	}
	checkTone(t, aDev.out(2), 1400, 30) // alice hears carol
	checkTone(t, cDev.out(1), 604, 30)  // carol hears alice
}

// TestWeTransferBaresip: trayphone (alice) talks with a real baresip (bob) and transfers him to
// carol (blind REFER). Bob calls carol; alice follows it in bob's NOTIFYs to "succeeded" and hangs
// up. Carol hears bob's tone, and bob (its own decode dump) hears carol's.
func TestWeTransferBaresip(t *testing.T) {
	checkGoroutines(t)
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004})
	alice := startCore(t, "alice", coreOpts{toneHz: 604})
	cDev := newPerCallFiles(t, 1400)
	carol := startCore(t, "carol", coreOpts{device: cDev})

	if _, err := alice.mgr.Call(ctx(t), bob.URI(), ""); err != nil {
		t.Fatal(err)
	}
	ab := alice.waitState(10*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // bob's next call's recordings get names of their own
	if _, err := alice.mgr.Transfer(ctx(t), ab.ID, carol.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	in := carol.waitState(10*time.Second, phone.CallIncoming)
	if err := carol.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	states := transferStates(t, alice, ab.ID, 10*time.Second)
	t.Logf("alice saw the transfer go %v", states)
	if len(states) == 0 || states[len(states)-1] != "succeeded" {
		t.Errorf("alice saw the transfer go %v, want it to succeed", states)
	}
	if ci, ok := ended(alice, ab.ID, 5*time.Second); !ok {
		t.Errorf("alice's call with bob is still %s after the transfer", ci.State)
	}
	time.Sleep(2500 * time.Millisecond)
	logMedia(t, carol)
	if err := carol.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	checkTone(t, cDev.out(1), 1004, 30)            // carol hears bob
	checkTone(t, bob.RecordedReceived(), 1400, 30) // bob hears carol
}

// grepLines returns the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestAttendedTransferToBaresip: alice (trayphone) talks with carol (trayphone), calls bob (a real
// baresip) to consult, and transfers carol to bob, replacing her call with bob (REFER with
// Replaces). baresip 1.0 does not support Replaces: it refuses carol's INVITE with 420 Bad
// Extension. The transfer fails cleanly: alice sees "failed" with 420 and keeps carol on hold,
// carol is back in her call with alice (off hold at her end), and bob's call with alice goes on.
func TestAttendedTransferToBaresip(t *testing.T) {
	checkGoroutines(t)
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004})
	alice := startCore(t, "alice", coreOpts{toneHz: 604, callWaiting: true, device: &roomDevice{}})
	carol := startCore(t, "carol", coreOpts{callWaiting: true, toneHz: 1400})

	ac, ca := established(t, alice, carol)
	if _, err := alice.mgr.Call(ctx(t), bob.URI(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var consult phone.CallInfo
	for _, ci := range alice.mgr.Status().Calls {
		if ci.ID != ac.ID {
			consult = ci
		}
	}
	if _, err := alice.mgr.Transfer(ctx(t), ac.ID, "", consult.ID); err != nil {
		t.Fatal(err)
	}
	states := transferStates(t, alice, ac.ID, 10*time.Second)
	ci, _ := callState(alice, ac.ID, 0, func(phone.CallInfo) bool { return true })
	if len(states) == 0 || states[len(states)-1] != "failed" || ci.Transfer == nil || ci.Transfer.Status != 420 || !ci.LocalHold {
		t.Errorf("alice saw the transfer go %v, transfer %+v, local hold %v; want failed with 420, carol still held", states, ci.Transfer, ci.LocalHold)
	}
	if !strings.Contains(bob.Log(), "option-tag 'replaces' not supported") {
		t.Errorf("bob's log does not say it refused Replaces")
	}
	if ci, ok := callState(carol, ca.ID, 5*time.Second, func(ci phone.CallInfo) bool {
		return ci.Transfer != nil && ci.Transfer.State == "failed" && !ci.LocalHold
	}); !ok {
		t.Errorf("carol's call with alice: transfer %+v, local hold %v; want failed, off hold", ci.Transfer, ci.LocalHold)
	}
	if n := len(carol.mgr.Status().Calls); n != 1 {
		t.Errorf("carol has %d calls, want her call with alice only", n)
	}
	if ci, ok := callState(alice, consult.ID, 0, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive }); !ok {
		t.Errorf("alice's call with bob is %s, want active", ci.State)
	}
}
