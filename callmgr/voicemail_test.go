package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/voicemail"
)

func newMachine(t *testing.T) (*voicemail.Machine, chan phone.VoicemailMessage) {
	t.Helper()
	got := make(chan phone.VoicemailMessage, 1)
	vm, err := voicemail.New(voicemail.Config{StateDir: t.TempDir(), Log: testLogger(t, "voicemail"),
		OnMessage: func(m phone.VoicemailMessage) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	return vm, got
}

// An unanswered call is taken by the machine after answer_after; one the user sends there is
// taken at once; without a machine, "send to voicemail" says why and the call goes on ringing.
func TestVoicemailAnswerAfterAndSend(t *testing.T) {
	vm, got := newMachine(t)
	b := startCore(t, "bob", coreOpts{voicemail: vm, voicemailAfter: 1500 * time.Millisecond})
	a := startCore(t, "alice", coreOpts{toneHz: 604})

	// answer_after.
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	in := b.waitState(5*time.Second, phone.CallIncoming)
	start := time.Now()
	taken := b.waitState(5*time.Second, phone.CallActive)
	if d := time.Since(start); !taken.Voicemail || d < time.Second || d > 3*time.Second {
		t.Errorf("the machine took call %s after %s (voicemail %v), want it after about 1.5 s", in.ID, d, taken.Voicemail)
	}
	a.waitState(5*time.Second, phone.CallActive)
	time.Sleep(7 * time.Second) // the greeting, the beep, 1.5 s of alice's tone
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	if e := b.waitState(5*time.Second, phone.CallEnded); e.Result != phone.ResultVoicemail {
		t.Errorf("got result %q, want voicemail", e.Result)
	}
	select {
	case m := <-got:
		if m.Duration < 1 {
			t.Errorf("message of %.1f s, want the 1.5 s or so alice said", float64(m.Duration))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message filed")
	}
	a.waitState(5*time.Second, phone.CallEnded)

	// Send to voicemail: at once.
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	in = b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.SendToVoicemail(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if c := b.waitState(time.Second, phone.CallActive); !c.Voicemail {
		t.Errorf("not the machine's call: %+v", c)
	}
	if err := b.mgr.SendToVoicemail(ctx(t), in.ID); err == nil || !strings.Contains(err.Error(), "with the answering machine already") {
		t.Errorf("sending the machine's call to voicemail again: got %v, want \"with the answering machine already\"", err)
	}
	a.waitState(5*time.Second, phone.CallActive)
	_ = a.mgr.Hangup(ctx(t), "")
	b.waitState(5*time.Second, phone.CallEnded)
	a.waitState(5*time.Second, phone.CallEnded)

	// No machine.
	c := startCore(t, "carol", coreOpts{})
	if _, err := a.mgr.Call(ctx(t), c.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	in = c.waitState(5*time.Second, phone.CallIncoming)
	if err := c.mgr.SendToVoicemail(ctx(t), in.ID); err == nil || !strings.Contains(err.Error(), "no answering machine") {
		t.Errorf("got %v, want \"no answering machine\"", err)
	}
	if st := c.mgr.Status(); len(st.Calls) != 1 || st.Calls[0].State != phone.CallIncoming {
		t.Errorf("the call should still ring: %+v", st.Calls)
	}
}
