package callmgr

import (
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/media"
)

// TestBaresipCallsUs and TestWeCallBaresip put a real baresip on the other end: audio is checked
// both ways from trayphone's recording and baresip's own decode dump.
func TestWeCallBaresip(t *testing.T) {
	for _, codec := range []media.Codec{media.PCMU, media.PCMA} {
		t.Run(codec.Name, func(t *testing.T) {
			bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004, Codecs: []string{"pcmu", "pcma"}})
			a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{codec}})
			callBaresip(t, a, bob, bob.URI(), codec.Name, 3*time.Second, 30)
		})
	}
}

func TestBaresipCallsUs(t *testing.T) {
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004})
	a := startCore(t, "alice", coreOpts{toneHz: 604})
	if err := bob.Dial(a.ua.AOR()); err != nil {
		t.Fatal(err)
	}
	in := a.waitState(10*time.Second, phone.CallIncoming)
	if in.Direction != phone.Incoming {
		t.Errorf("direction %s", in.Direction)
	}
	if _, err := bob.WaitEvent(baresip.CallRinging, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.mgr.Answer(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	logMedia(t, a)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	if e := a.waitState(5*time.Second, phone.CallEnded); e.EndReason != "the far end hung up" {
		t.Errorf("end reason %q", e.EndReason)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.stop()
	checkTone(t, a.out, 1004, 35)
	checkTone(t, bob.RecordedReceived(), 604, 35)
}
