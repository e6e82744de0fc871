package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/kamailio"
)

// withDevice makes an account core use dev as its audio device.
func withDevice(dev *perCallFiles) func(*Config) {
	return func(c *Config) { c.Device = dev }
}

// TestTransferThroughKamailio: alice, bob and carol are registered at a real Kamailio (every
// request goes through it: Record-Route). Blind: alice calls bob by name and transfers him to
// "carol" (resolved through the account's domain); bob calls carol through Kamailio, carol
// answers, and bob and carol hear each other. Attended: alice calls bob again, consults carol,
// and transfers bob to her; bob's INVITE with Replaces reaches carol through Kamailio and takes
// over her call with alice; bob and carol hear each other again.
func TestTransferThroughKamailio(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{})
	bDev, cDev := newPerCallFiles(t, 604), newPerCallFiles(t, 1400)
	alice := startAccountCoreOn(t, k, "udp", "alice", "alicepw", 1004)
	bob := startAccountCoreOn(t, k, "udp", "bob", "bobpw", 604, withDevice(bDev))
	carol := startAccountCoreOn(t, k, "udp", "carol", "carolpw", 1400, withDevice(cDev))

	// Blind.
	if _, err := alice.mgr.Call(ctx(t), "bob", ""); err != nil {
		t.Fatal(err)
	}
	bIn := bob.waitState(5*time.Second, phone.CallIncoming)
	if err := bob.mgr.Answer(ctx(t), bIn.ID); err != nil {
		t.Fatal(err)
	}
	ab := alice.waitState(5*time.Second, phone.CallActive)
	refers := k.Requests("REFER")
	if _, err := alice.mgr.Transfer(ctx(t), ab.ID, "carol", ""); err != nil {
		t.Fatal(err)
	}
	cIn := carol.waitState(5*time.Second, phone.CallIncoming)
	if want := "sip:bob@" + k.Domain(); cIn.Remote != want {
		t.Errorf("carol's caller is %s, want %s", cIn.Remote, want)
	}
	if err := carol.mgr.Answer(ctx(t), cIn.ID); err != nil {
		t.Fatal(err)
	}
	if states := transferStates(t, alice.core, ab.ID, 10*time.Second); len(states) == 0 || states[len(states)-1] != "succeeded" {
		t.Fatalf("blind: alice saw the transfer go %v, want it to succeed", states)
	}
	if n := k.Requests("REFER") - refers; n < 1 {
		t.Errorf("the REFER did not go through Kamailio")
	}
	if n := k.Requests("NOTIFY"); n < 1 {
		t.Errorf("no NOTIFY went through Kamailio")
	}
	if ci, ok := ended(bob.core, bIn.ID, 5*time.Second); !ok {
		t.Errorf("blind: bob's call with alice is still %s", ci.State)
	}
	time.Sleep(2 * time.Second)
	logMedia(t, bob.core, carol.core)
	if err := carol.mgr.Hangup(ctx(t), cIn.ID); err != nil {
		t.Fatal(err)
	}
	bob.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(300 * time.Millisecond)
	checkTone(t, bDev.out(2), 1400, 30) // bob hears carol
	checkTone(t, cDev.out(1), 604, 30)  // carol hears bob

	// Attended.
	if _, err := alice.mgr.Call(ctx(t), "bob", ""); err != nil {
		t.Fatal(err)
	}
	bIn = bob.waitState(5*time.Second, phone.CallIncoming)
	if err := bob.mgr.Answer(ctx(t), bIn.ID); err != nil {
		t.Fatal(err)
	}
	ab = alice.waitState(5*time.Second, phone.CallActive)
	ac, err := alice.mgr.Call(ctx(t), "carol", "")
	if err != nil {
		t.Fatal(err)
	}
	cIn = carol.waitState(5*time.Second, phone.CallIncoming)
	if err := carol.mgr.Answer(ctx(t), cIn.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := callState(alice.core, ac.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive }); !ok {
		t.Fatal("alice's consultation call with carol did not become active")
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := alice.mgr.Transfer(ctx(t), ab.ID, "", ac.ID); err != nil {
		t.Fatal(err)
	}
	if states := transferStates(t, alice.core, ab.ID, 10*time.Second); len(states) == 0 || states[len(states)-1] != "succeeded" {
		t.Fatalf("attended: alice saw the transfer go %v, want it to succeed", states)
	}
	var cb phone.CallInfo
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if calls := carol.mgr.Status().Calls; len(calls) == 1 && calls[0].ID != cIn.ID {
			cb = calls[0]
			break
		}
	}
	if cb.State != phone.CallActive || !strings.Contains(cb.Remote, "bob@") {
		t.Fatalf("attended: carol's calls %+v, want one active call from bob", carol.mgr.Status().Calls)
	}
	for _, id := range []string{ab.ID, ac.ID} {
		if ci, ok := ended(alice.core, id, 5*time.Second); !ok {
			t.Errorf("attended: alice's call %s is still %s", id, ci.State)
		}
	}
	time.Sleep(2 * time.Second)
	logMedia(t, bob.core, carol.core)
	if err := carol.mgr.Hangup(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	checkTone(t, bDev.out(4), 1400, 30) // bob hears carol
	checkTone(t, cDev.out(3), 604, 30)  // carol hears bob
}
