package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/media"
)

// TestCallAudioBothWays is the core's promise: two phones call each other over loopback and each
// hears the other's test tone, with G.711 quality (SNR ≥ 30 dB), for both µ-law and A-law.
func TestCallAudioBothWays(t *testing.T) {
	for _, codec := range []media.Codec{media.PCMU, media.PCMA} {
		t.Run(codec.Name, func(t *testing.T) {
			checkGoroutines(t)
			a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{codec}})
			b := startCore(t, "bob", coreOpts{toneHz: 1004, codecs: []media.Codec{media.PCMU, media.PCMA}})
			ca, cb := established(t, a, b)
			if ca.Codec != codec.Name || cb.Codec != codec.Name {
				t.Fatalf("codecs %s/%s, want %s", ca.Codec, cb.Codec, codec.Name)
			}
			time.Sleep(3 * time.Second)
			logMedia(t, a, b)
			st := a.mgr.Status()
			if len(st.Calls) != 1 || st.Calls[0].Duration < 2 || st.Calls[0].Media.PacketsReceived < 100 {
				t.Errorf("alice status during the call: %+v", st.Calls)
			}
			if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
				t.Fatal(err)
			}
			ea := a.waitState(5*time.Second, phone.CallEnded)
			eb := b.waitState(5*time.Second, phone.CallEnded)
			if ea.EndReason != "hung up" || eb.EndReason != "the far end hung up" {
				t.Errorf("end reasons %q / %q", ea.EndReason, eb.EndReason)
			}
			a.stop()
			b.stop()
			checkTone(t, a.out, 1004, 35) // alice hears bob
			checkTone(t, b.out, 604, 35)  // bob hears alice
		})
	}
}

func TestByeFromCallee(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	_, cb := established(t, a, b)
	if err := b.mgr.Hangup(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	ea := a.waitState(5*time.Second, phone.CallEnded)
	if ea.EndReason != "the far end hung up" {
		t.Errorf("alice's end reason %q", ea.EndReason)
	}
	if n := len(a.mgr.Status().Calls) + len(b.mgr.Status().Calls); n != 0 {
		t.Errorf("%d calls left after hang-up", n)
	}
	if r := a.mgr.Recent(); len(r) != 1 || r[0].Duration < 0 {
		t.Errorf("alice's history %+v", r)
	}
}

// TestHangupRightAfterAnswer: the callee answers and hangs up at once, before the caller has
// even seen the 200 OK. The caller's call must still end (the BYE waits for the ACK; it used to
// be refused by sipgo as coming before the 2xx and the caller stayed in the call).
func TestHangupRightAfterAnswer(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	for i := range 3 {
		if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
			t.Fatalf("call: %v", err)
		}
		cb := b.waitState(5*time.Second, phone.CallIncoming)
		if err := b.mgr.Answer(ctx(t), cb.ID); err != nil {
			t.Fatalf("answer: %v", err)
		}
		if err := b.mgr.Hangup(ctx(t), cb.ID); err != nil {
			t.Fatal(err)
		}
		ea := a.waitState(5*time.Second, phone.CallEnded)
		if ea.EndReason != "the far end hung up" {
			t.Errorf("round %d: alice's end reason %q", i, ea.EndReason)
		}
		if n := len(a.mgr.Status().Calls) + len(b.mgr.Status().Calls); n != 0 {
			t.Fatalf("round %d: %d calls left after the hang-up", i, n)
		}
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	ca, err := a.mgr.Call(ctx(t), b.ua.AOR(), "")
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallIncoming)
	a.waitState(5*time.Second, phone.CallRinging)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	eb := b.waitState(5*time.Second, phone.CallEnded)
	if !strings.Contains(eb.EndReason, "missed") {
		t.Errorf("bob's end reason %q, want a missed call", eb.EndReason)
	}
	ea := a.waitState(5*time.Second, phone.CallEnded)
	if ea.EndReason != "cancelled" {
		t.Errorf("alice's end reason %q", ea.EndReason)
	}
}

func TestDecline(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Hangup(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	ea := a.waitState(5*time.Second, phone.CallEnded)
	if !strings.Contains(ea.EndReason, "declined the call (603)") {
		t.Errorf("alice's end reason %q", ea.EndReason)
	}
}

func TestBusy(t *testing.T) {
	checkGoroutines(t)
	t.Run("dnd", func(t *testing.T) {
		a := startCore(t, "alice", coreOpts{})
		b := startCore(t, "bob", coreOpts{dnd: true})
		if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
			t.Fatal(err)
		}
		ea := a.waitState(5*time.Second, phone.CallEnded)
		if !strings.Contains(ea.EndReason, "is busy (486)") {
			t.Errorf("end reason %q", ea.EndReason)
		}
		if r := b.mgr.Recent(); len(r) != 1 || !strings.Contains(r[0].EndReason, "do not disturb") {
			t.Errorf("bob's history should show the rejected call: %+v", r)
		}
	})
	t.Run("in a call, no call waiting", func(t *testing.T) {
		a := startCore(t, "alice", coreOpts{})
		b := startCore(t, "bob", coreOpts{})
		c := startCore(t, "carol", coreOpts{})
		established(t, a, b)
		if _, err := c.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
			t.Fatal(err)
		}
		ec := c.waitState(5*time.Second, phone.CallEnded)
		if !strings.Contains(ec.EndReason, "is busy (486)") {
			t.Errorf("end reason %q", ec.EndReason)
		}
	})
}

func TestHoldResume(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{toneHz: 604})
	b := startCore(t, "bob", coreOpts{toneHz: 1004})
	ca, _ := established(t, a, b)
	time.Sleep(time.Second)
	if err := a.mgr.Hold(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	ha := a.waitState(5*time.Second, phone.CallHeld)
	hb := b.waitState(5*time.Second, phone.CallHeld)
	if !ha.LocalHold || ha.RemoteHold || !hb.RemoteHold || hb.LocalHold {
		t.Errorf("hold flags: alice %+v, bob %+v", ha, hb)
	}
	sentBefore := b.mgr.Status().Calls[0].Media.PacketsSent
	time.Sleep(time.Second)
	if sent := b.mgr.Status().Calls[0].Media.PacketsSent; sent > sentBefore+2 {
		t.Errorf("bob sent %d packets while held (recvonly)", sent-sentBefore)
	}
	if err := a.mgr.Resume(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallActive)
	b.waitState(5*time.Second, phone.CallActive)
	// Audio must flow again in both directions after resume: first packets within a few seconds
	// (the re-INVITE may take a moment on a loaded machine), then a steady 50 a second.
	recvA := a.mgr.Status().Calls[0].Media.PacketsReceived
	recvB := b.mgr.Status().Calls[0].Media.PacketsReceived
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ra, rb := a.mgr.Status().Calls[0].Media.PacketsReceived, b.mgr.Status().Calls[0].Media.PacketsReceived
		if ra >= recvA+5 && rb >= recvB+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audio 5 s after resume: alice received %d, bob %d packets", ra-recvA, rb-recvB)
		}
	}
	recvA = a.mgr.Status().Calls[0].Media.PacketsReceived
	recvB = b.mgr.Status().Calls[0].Media.PacketsReceived
	time.Sleep(2 * time.Second)
	if got := a.mgr.Status().Calls[0].Media.PacketsReceived - recvA; got < 80 {
		t.Errorf("alice received %d packets in 2 s after resume, want ≈100", got)
	}
	if got := b.mgr.Status().Calls[0].Media.PacketsReceived - recvB; got < 80 {
		t.Errorf("bob received %d packets in 2 s after resume, want ≈100", got)
	}
	if err := b.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	b.stop()
	// The recordings hold talk, hold, talk: the tone must be back after resume.
	checkToneLast(t, a.out, 1004, 30, 1500*time.Millisecond)
	checkToneLast(t, b.out, 604, 30, 1500*time.Millisecond)
}

func TestEchoTest(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{toneHz: 700})
	ci, err := a.mgr.Call(ctx(t), "echo", "")
	if err != nil {
		t.Fatal(err)
	}
	if ci.Remote != "echo" {
		t.Errorf("remote %q", ci.Remote)
	}
	a.waitState(5*time.Second, phone.CallActive)
	if st := a.mgr.Status(); len(st.Calls) != 1 {
		t.Errorf("the echo test's far end must not show as a call: %+v", st.Calls)
	}
	time.Sleep(3 * time.Second)
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	checkTone(t, a.out, 700, 35)
}

func TestCallErrors(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{ringTimeout: 2 * time.Second})
	b := startCore(t, "bob", coreOpts{})
	cases := []struct {
		target string
		want   string
	}{
		{"", "nothing to call"},
		{"bob", "not a favorite"},
		{"tel:+15551234", "needs a SIP account"},
		{"sip:", "has no host"},
		{"sip:bob@", "has no host"},
		{"sip:bob@[::1", "not a valid SIP address"},
	}
	for _, c := range cases {
		_, err := a.mgr.Call(ctx(t), c.target, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Call(%q): %v, want an error containing %q", c.target, err, c.want)
		}
	}
	// Unknown user on a real phone: 404.
	uri := strings.Replace(b.ua.AOR(), "bob@", "nobody@", 1)
	if _, err := a.mgr.Call(ctx(t), uri, ""); err != nil {
		t.Fatal(err)
	}
	if e := a.waitState(5*time.Second, phone.CallEnded); !strings.Contains(e.EndReason, "does not exist (404") {
		t.Errorf("end reason %q", e.EndReason)
	}
	// Nobody answers: CANCEL after the ring timeout.
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	if e := a.waitState(5*time.Second, phone.CallEnded); !strings.Contains(e.EndReason, "no answer") {
		t.Errorf("end reason %q", e.EndReason)
	}
	if e := b.waitState(5*time.Second, phone.CallEnded); !strings.Contains(e.EndReason, "missed") {
		t.Errorf("bob's end reason %q", e.EndReason)
	}
}

// TestLateSubscriberSeesRingingCall: a consumer that subscribes while a call already rings (a
// notifier starting late) gets that call first thing.
func TestLateSubscriberSeesRingingCall(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallIncoming)
	late, cancel := b.mgr.Subscribe()
	defer cancel()
	select {
	case ev := <-late:
		if ev.Type != phone.EventCall || ev.Call == nil || ev.Call.State != phone.CallIncoming {
			t.Errorf("first event for a late subscriber: %+v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a late subscriber got nothing about the ringing call")
	}
}

// TestFarEndVanishes: the far end stops sending audio without a BYE (it crashed or lost its
// network): after the RTP timeout the call is hung up and the user told why.
func TestFarEndVanishes(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{rtpTimeout: time.Second})
	b := startCore(t, "bob", coreOpts{})
	_, cb := established(t, a, b)
	time.Sleep(500 * time.Millisecond)
	// Bob's media dies silently: his phone neither sends audio nor says goodbye.
	if err := b.mgr.do(ctx(t), func() error { return b.mgr.calls[cb.ID].sess.Close() }); err != nil {
		t.Fatal(err)
	}
	e := a.waitState(5*time.Second, phone.CallEnded)
	if !strings.Contains(e.EndReason, "no audio from") || !strings.Contains(e.EndReason, "connection to the far end was lost") {
		t.Errorf("end reason %q", e.EndReason)
	}
	b.waitState(5*time.Second, phone.CallEnded) // alice's BYE still reaches bob's SIP side
}
