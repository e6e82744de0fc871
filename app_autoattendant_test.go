package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/testenv"
)

// startAttendant builds examples/auto-attendant and runs it against phone desk, transferring key 1
// to sales. It returns once the attendant follows the phone's events.
func startAttendant(t *testing.T, desk *instance, sales, greeting string, timeout time.Duration) *testenv.Buffer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "auto-attendant")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/auto-attendant").CombinedOutput(); err != nil {
		t.Fatalf("build the example: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--trayphone", binary, "--home", desk.home, "--sales", sales,
		"--greeting", greeting, "--timeout", timeout.String())
	log := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the auto-attendant did not stop within 5 s of SIGINT")
		}
		if t.Failed() {
			t.Logf("auto-attendant log:\n%s", log.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(log.String(), "waiting for calls") {
			time.Sleep(300 * time.Millisecond) // the events stream is up
			return log
		}
	}
	t.Fatalf("the auto-attendant did not start:\n%s", log.String())
	return nil
}

// judgeGreeting checks that recording path (what the caller's baresip received) carries the
// greeting, a tone of freq, for about want (once), cleanly.
func judgeGreeting(t *testing.T, path string, freq float64, want time.Duration) {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatalf("the caller's recording: %v", err)
	}
	from, to := audiotest.ActiveSpan(s, rate, -40)
	c, err := audiotest.MeasureCall(s, rate, freq)
	if err != nil {
		t.Fatalf("the caller did not hear the greeting: %v", err)
	}
	t.Logf("the caller heard: sound from %s to %s; %v", from, to, c)
	if d := to - from; d < want-100*time.Millisecond || d > want+150*time.Millisecond {
		t.Errorf("the caller heard %s of sound, want the %s greeting", d, want)
	}
	if c.SINADdB < 30 || c.Clicks > 0 || c.Gaps > 0 {
		t.Errorf("the greeting as the caller heard it: SINAD %.1f dB, %d clicks, %d gaps; want >= 30 dB, none, none", c.SINADdB, c.Clicks, c.Gaps)
	}
}

// TestAutoAttendantBaresip runs examples/auto-attendant on a real trayphone (no microphone)
// and has a real baresip call it and press keys (RFC 4733):
//   - key 1 after the greeting: the caller heard the whole greeting (its own recording, clean),
//     is transferred to sales (another baresip), and sales hears the caller's tone cleanly;
//   - key 2 during the greeting: the greeting stops, the answering machine greets the caller and
//     records a message, which "trayphone messages --json" lists;
//   - no key: after the greeting twice and the timeout, the call goes to the answering machine.
func TestAutoAttendantBaresip(t *testing.T) {
	desk := startInstance(t, "desk", 1004, "--audio-in", "null")
	deskAddr := desk.status().Contact[0]
	sales := baresip.Start(t, baresip.Options{User: "sales", ToneHz: 1400})
	caller := baresip.Start(t, baresip.Options{User: "carl", ToneHz: 604, AnswerMode: "manual"})
	greeting := filepath.Join(t.TempDir(), "menu.wav")
	if err := audiotest.WriteTone(greeting, 1500, 0.5, 16000, 2.5); err != nil {
		t.Fatal(err)
	}
	log := startAttendant(t, desk, sales.URI(), greeting, 3*time.Second)

	// Key 1: transfer.
	if err := caller.Dial(deskAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond) // the whole greeting, then a second of waiting for a key
	if _, err := caller.Command("sndcode", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := sales.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatalf("the caller was not transferred to sales: %v", err)
	}
	desk.waitNoCalls()
	if h := desk.cli("history", "--json"); !strings.Contains(h, "transferred") {
		t.Errorf("the desk's history does not say the call was transferred:\n%s", h)
	}
	time.Sleep(3 * time.Second) // the caller talks with sales
	if err := caller.Hangup(); err != nil {
		t.Fatal(err)
	}
	if _, err := sales.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := caller.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	dumps := caller.RecordedReceivedAll()
	if len(dumps) != 2 {
		t.Fatalf("the caller's recordings: %v, want two calls (the desk, sales)", dumps)
	}
	judgeGreeting(t, dumps[0], 1500, 2500*time.Millisecond)
	s, rate, err := audiotest.ReadWAVMono(sales.RecordedReceived())
	if err != nil {
		t.Fatal(err)
	}
	c, err := audiotest.MeasureCall(s, rate, 604)
	if err != nil {
		t.Fatalf("sales did not hear the caller: %v", err)
	}
	t.Logf("sales heard the caller: %v", c)
	if c.End-c.Start < 2*time.Second || c.SINADdB < 30 || c.Clicks > 0 || c.Gaps > 0 {
		t.Errorf("sales heard the caller for %s: SINAD %.1f dB, %d clicks, %d gaps; want >= 2 s, >= 30 dB, none, none", c.End-c.Start, c.SINADdB, c.Clicks, c.Gaps)
	}

	// Key 2 during the greeting: the answering machine.
	if err := caller.Dial(deskAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := caller.Command("sndcode", "2"); err != nil {
		t.Fatal(err)
	}
	vm := waitVoicemail(t, desk)
	time.Sleep(7 * time.Second) // the machine's greeting and beep, then the caller's tone
	if err := caller.Hangup(); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := waitMessages(t, desk, 1)
	if m := msgs[0]; !strings.HasPrefix(m.From, "sip:carl@") || m.Duration < 1 {
		t.Errorf("the message: %+v, want one from carl of a second or more", m)
	}
	// The menu stopped when the key came (a second in): it is clear in the first half second of
	// what the caller heard and gone from where it would still play (1.7-2.3 s; the machine's
	// spoken greeting is there).
	s, rate, err = audiotest.ReadWAVMono(caller.RecordedReceived())
	if err != nil {
		t.Fatal(err)
	}
	early := audiotest.ToneSNR(audiotest.Trim(s, rate, 100*time.Millisecond, 600*time.Millisecond), rate, 1500)
	late := audiotest.ToneSNR(audiotest.Trim(s, rate, 1700*time.Millisecond, 2300*time.Millisecond), rate, 1500)
	if early < 25 || late > 10 {
		t.Errorf("the menu on the call sent to voicemail (call %s): %.1f dB SNR at first, %.1f dB after the key; want >= 25, then <= 10 (cut short)", vm.ID, early, late)
	}

	// No key: the greeting twice, then the answering machine.
	if err := caller.Dial(deskAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitVoicemail(t, desk)
	if d := time.Since(start); d < 2*(2500+3000)*time.Millisecond-time.Second {
		t.Errorf("the call went to voicemail after %s, want after the greeting twice and the 3 s timeout twice", d)
	}
	if err := caller.Hangup(); err != nil {
		t.Fatal(err)
	}
	desk.waitNoCalls()
	if !strings.Contains(log.String(), `"": to voicemail`) {
		t.Errorf("the attendant's log does not say the caller pressed nothing:\n%s", log.String())
	}
}

// waitVoicemail waits until the desk's only call is with the answering machine.
func waitVoicemail(t *testing.T, desk *instance) phone.CallInfo {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st := desk.status(); len(st.Calls) == 1 && st.Calls[0].Voicemail {
			return st.Calls[0]
		}
	}
	t.Fatalf("the call did not go to the answering machine; status %+v", desk.status())
	return phone.CallInfo{}
}

// waitMessages waits for n messages in "trayphone messages --json".
func waitMessages(t *testing.T, desk *instance, n int) []phone.VoicemailMessage {
	t.Helper()
	var msgs []phone.VoicemailMessage
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		msgs = nil
		if err := json.Unmarshal(bytes.TrimSpace([]byte(desk.cli("messages", "--json"))), &msgs); err != nil {
			t.Fatal(err)
		}
		if len(msgs) >= n {
			return msgs
		}
	}
	t.Fatalf("%d messages, want %d", len(msgs), n)
	return nil
}
