package callmgr

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/screen"
	"trayphone/internal/siptest/baresip"
	"trayphone/voicemail"
)

// rulesScreener applies rules as the phone does, without contacts.
type rulesScreener struct{ rs *screen.Rules }

func (s rulesScreener) Screen(uri, name string, now time.Time) screen.Decision {
	return s.rs.Decide(screen.Caller{URI: uri, Anonymous: screen.IsAnonymous(uri, name)}, now)
}

func screenWith(t *testing.T, rules ...screen.Rule) Screener {
	t.Helper()
	rs, errs := screen.Compile(rules)
	if errs != nil {
		t.Fatal(errs)
	}
	return rulesScreener{rs}
}

// TestBaresipScreenedReject: a caller a rule rejects gets 433 Anonymity Disallowed (anonymous)
// or 603 Decline (a blocked address) from a real baresip's point of view, never rings (no 180,
// no incoming call shown), and is in the history as "screened".
func TestBaresipScreenedReject(t *testing.T) {
	tests := []struct {
		name, user string
		code       string
	}{
		{"anonymous", "anonymous", "433"},
		{"blocked", "spammer", "603"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			caller := baresip.Start(t, baresip.Options{User: tc.user, ToneHz: 1004})
			a := startCore(t, "alice", coreOpts{screen: screenWith(t,
				screen.Rule{Match: "anonymous", Action: screen.ActionReject},
				screen.Rule{Match: "sip:spammer@*", Action: screen.ActionReject},
				screen.Rule{Match: "*@*", Action: screen.ActionRing})})
			if err := caller.Dial(a.ua.AOR()); err != nil {
				t.Fatal(err)
			}
			ev, err := caller.WaitEvent(baresip.CallClosed, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(ev.Param, tc.code) {
				t.Errorf("baresip's call closed with %q, want %s", ev.Param, tc.code)
			}
			for _, e := range caller.Events() {
				if e.Type == baresip.CallRinging || e.Type == baresip.CallEstablished {
					t.Errorf("baresip got %s: the screened call rang or was answered", e.Type)
				}
			}
			ended := a.wait(5*time.Second, "screened call", func(ci phone.CallInfo) bool { return ci.State == phone.CallEnded })
			if ended.Result != phone.ResultScreened || !strings.Contains(ended.EndReason, "rule") {
				t.Errorf("got result %q reason %q, want screened, naming the rule", ended.Result, ended.EndReason)
			}
			drain(a, func(ev phone.Event) {
				if ev.Call != nil && ev.Call.State == phone.CallIncoming {
					t.Errorf("the screened call was shown ringing: %+v", ev.Call)
				}
			})
			if r := a.mgr.Recent(); len(r) != 1 || r[0].Result != phone.ResultScreened {
				t.Errorf("history: got %+v, want one screened call", r)
			}
			// The same caller without the rules rings: the rules, not something else, refused it.
			b := startCore(t, "bob", coreOpts{})
			if err := caller.Dial(b.ua.AOR()); err != nil {
				t.Fatal(err)
			}
			b.waitState(10*time.Second, phone.CallIncoming)
		})
	}
}

// drain hands f the events a has queued now.
func drain(a *core, f func(phone.Event)) {
	for {
		select {
		case ev, ok := <-a.events:
			if !ok {
				return
			}
			f(ev)
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

// TestBaresipVoicemail: a rule sends a real baresip's call to the answering machine. baresip's
// recording of what it heard holds the greeting (speech), then the beep (1 kHz); the message
// holds what baresip sent (a 604 Hz tone, judged over the whole message), with the right
// details, 0600.
func TestBaresipVoicemail(t *testing.T) {
	got := make(chan phone.VoicemailMessage, 1)
	vm, err := voicemail.New(voicemail.Config{StateDir: t.TempDir(), Log: testLogger(t, "voicemail"),
		OnMessage: func(m phone.VoicemailMessage) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	caller := baresip.Start(t, baresip.Options{User: "carol", ToneHz: 604})
	a := startCore(t, "alice", coreOpts{voicemail: vm, screen: screenWith(t,
		screen.Rule{Match: "sip:carol@*", Action: screen.ActionVoicemail})})
	if err := caller.Dial(a.ua.AOR()); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	active := a.waitState(5*time.Second, phone.CallActive)
	if !active.Voicemail {
		t.Errorf("the machine's call is not marked voicemail: %+v", active)
	}
	// Greeting (4.7 s), gap, beep (0.5 s), then 3 s of message.
	time.Sleep(8500 * time.Millisecond)
	if err := caller.Hangup(); err != nil {
		t.Fatal(err)
	}
	ended := a.waitState(5*time.Second, phone.CallEnded)
	if ended.Result != phone.ResultVoicemail {
		t.Errorf("history result %q, want voicemail", ended.Result)
	}
	var msg phone.VoicemailMessage
	select {
	case msg = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no message filed")
	}
	caller.WaitEvent(baresip.CallClosed, 5*time.Second) //nolint:errcheck // its recording is finished by then

	// What baresip heard: speech, then the beep, then (nearly) silence.
	heard, rate, err := audiotest.ReadWAVMono(caller.RecordedReceived())
	if err != nil {
		t.Fatal(err)
	}
	win := rate / 10
	beepAt := -1
	for i := 0; i+win <= len(heard); i += win / 2 {
		if audiotest.ToneSNR(heard[i:i+win], rate, 1000) > 20 && audiotest.RMSdBFS(heard[i:i+win]) > -15 {
			beepAt = i
			break
		}
	}
	if beepAt < 0 {
		t.Fatalf("no 1 kHz beep in what baresip heard (%.1f s)", float64(len(heard))/float64(rate))
	}
	speech := 0
	for i := 0; i+win <= beepAt; i += win {
		if audiotest.RMSdBFS(heard[i:i+win]) > -35 {
			speech += win
		}
	}
	if s := float64(speech) / float64(rate); s < 2.5 {
		t.Errorf("baresip heard %.1f s of sound before the beep, want the greeting's speech (≥ 2.5 s)", s)
	}
	beepLen := 0
	for i := beepAt; i+win <= len(heard) && audiotest.ToneSNR(heard[i:i+win], rate, 1000) > 20; i += win / 2 {
		beepLen += win / 2
	}
	if d := float64(beepLen) / float64(rate); d < 0.3 || d > 0.7 {
		t.Errorf("beep: %.2f s of 1 kHz, want about 0.5 s", d)
	}
	t.Logf("baresip heard %.1f s of speech, then the beep at %.2f s for %.2f s", float64(speech)/float64(rate), float64(beepAt)/float64(rate), float64(beepLen)/float64(rate))

	// What the machine kept.
	if msg.From != active.Remote || !msg.New || msg.Start.Before(active.Started) || math.Abs(float64(msg.Duration)-3.3) > 1 {
		t.Errorf("message %+v: want from %s, new, about 3 s long", msg, active.Remote)
	}
	for _, f := range []string{msg.File, strings.TrimSuffix(msg.File, ".wav") + ".json"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	rec, rrate, err := audiotest.ReadWAVMono(msg.File)
	if err != nil {
		t.Fatal(err)
	}
	c, err := audiotest.MeasureCall(rec, rrate, 604)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("message: %v", c)
	if c.SINADdB < 30 || c.Clicks > 0 || c.Gaps > 0 || c.End-c.Start < 2*time.Second {
		t.Errorf("message audio: %v; want the caller's 604 Hz tone clean over ≥ 2 s", c)
	}
	if l, err := vm.List(); err != nil || len(l) != 1 || l[0].ID != msg.ID {
		t.Errorf("List: %+v, %v; want the one message", l, err)
	}
}

// TestBaresipSilent: a "silent" rule lets the call ring (baresip hears 180 Ringing) marked silent
// for the tones and the notification, and it can be answered as usual.
func TestBaresipSilent(t *testing.T) {
	caller := baresip.Start(t, baresip.Options{User: "dave", ToneHz: 1004})
	a := startCore(t, "alice", coreOpts{screen: screenWith(t, screen.Rule{Match: "unknown", Action: screen.ActionSilent})})
	if err := caller.Dial(a.ua.AOR()); err != nil {
		t.Fatal(err)
	}
	in := a.waitState(10*time.Second, phone.CallIncoming)
	if !in.Silent {
		t.Errorf("the ringing call is not marked silent: %+v", in)
	}
	if _, err := caller.WaitEvent(baresip.CallRinging, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = caller.Hangup()
	if e := a.waitState(5*time.Second, phone.CallEnded); e.Result != phone.ResultAnswered {
		t.Errorf("result %q, want answered", e.Result)
	}
}
