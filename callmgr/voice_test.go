package callmgr

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/media"
)

// voiceCmd runs control handler h with args, as the control socket does.
func voiceCmd(t *testing.T, h func(context.Context, json.RawMessage) (any, error), ctx context.Context, args any) (any, error) {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return h(ctx, raw)
}

// writeStereoTone writes a stereo 16-bit WAV of freq at amplitude for seconds at rate (both
// channels alike), so that play has to mix it down and resample it.
func writeStereoTone(t *testing.T, path string, freq, amplitude float64, rate int, seconds float64) {
	t.Helper()
	mono := audiotest.Tone(freq, amplitude, rate, int(seconds*float64(rate)))
	st := make([]int16, 0, 2*len(mono))
	for _, v := range mono {
		st = append(st, v, v)
	}
	w, err := media.NewWAVWriter(path, rate, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(st); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// measureSpan measures the tone in the active part of recording path: how long it lasts and how
// clean it is.
func measureSpan(t *testing.T, path string, freq float64) audiotest.Call {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	c, err := audiotest.MeasureCall(s, rate, freq)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	t.Logf("%s: %v", filepath.Base(path), c)
	return c
}

// TestPlayAndRecordFar: bob (no microphone: silence) plays a 2 s stereo 16 kHz WAV into the call;
// play returns when it has played; alice records what bob sends (record-far) and gets that tone,
// 2 s long and clean, with silence around it; bob records alice's tone for --seconds 1.5 and gets
// exactly 1.5 s of it in a 0600 file.
func TestPlayAndRecordFar(t *testing.T) {
	a := startCore(t, "alice", coreOpts{toneHz: 604})
	b := startCore(t, "bob", coreOpts{device: media.NewNull()})
	ca, cb := established(t, a, b)
	dir := t.TempDir()
	sound := filepath.Join(dir, "prompt.wav")
	writeStereoTone(t, sound, 1500, 0.5, 16000, 2)

	aRec := filepath.Join(dir, "alice-heard.wav")
	recDone := make(chan RecordResult, 1)
	go func() {
		res, err := voiceCmd(t, RecordFarCommand(a.mgr), context.Background(), recordFarArgs{ID: ca.ID, File: aRec, Seconds: 4})
		if err != nil {
			t.Errorf("alice record-far: %v", err)
		}
		r, _ := res.(RecordResult)
		recDone <- r
	}()
	time.Sleep(500 * time.Millisecond) // recording runs before the sound starts

	bRec := filepath.Join(dir, "bob-heard.wav")
	bDone := make(chan RecordResult, 1)
	go func() {
		res, err := voiceCmd(t, RecordFarCommand(b.mgr), context.Background(), recordFarArgs{ID: cb.ID, File: bRec, Seconds: 1.5})
		if err != nil {
			t.Errorf("bob record-far: %v", err)
		}
		r, _ := res.(RecordResult)
		bDone <- r
	}()

	start := time.Now()
	res, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, File: sound})
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	if took := time.Since(start); took < 1900*time.Millisecond || took > 3*time.Second {
		t.Errorf("play returned after %s, want when the 2 s sound has played", took)
	}
	if pr := res.(PlayResult); pr.Stopped || math.Abs(pr.Seconds-2) > 0.05 {
		t.Errorf("play answered %+v, want 2 s played to the end", pr)
	}

	var r RecordResult
	select {
	case r = <-recDone:
	case <-time.After(5 * time.Second):
		t.Fatal("alice's recording did not end at its 4 s limit")
	}
	if r.Ended != "the time limit" || math.Abs(float64(r.Seconds)-4) > 0.001 {
		t.Errorf("alice's recording: %+v, want 4 s ended by the time limit", r)
	}
	c := measureSpan(t, aRec, 1500)
	heard, _, _ := audiotest.ReadWAVMono(aRec)
	if from, to := audiotest.ActiveSpan(heard, 8000, -40); to-from < 1900*time.Millisecond || to-from > 2150*time.Millisecond || from < 300*time.Millisecond {
		t.Errorf("alice heard sound from %s to %s, want the 2 s tone after the silence before it", from, to)
	}
	if c.SINADdB < 30 || c.Clicks > 0 {
		if n := disturbance(t); n == 0 {
			t.Errorf("the played tone as alice heard it: SINAD %.1f dB, %d clicks; want >= 30 dB, none", c.SINADdB, c.Clicks)
		}
	}

	select {
	case r = <-bDone:
	case <-time.After(5 * time.Second):
		t.Fatal("bob's recording did not end at its 1.5 s limit")
	}
	if r.Ended != "the time limit" || float64(r.Seconds) != 1.5 {
		t.Errorf("bob's recording: %+v, want 1.5 s ended by the time limit", r)
	}
	s, rate, err := audiotest.ReadWAVMono(bRec)
	if err != nil || rate != 8000 || len(s) != 12000 {
		t.Errorf("bob's recording: %d samples at %d Hz (%v), want 12000 at 8000", len(s), rate, err)
	}
	if st, err := os.Stat(bRec); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("bob's recording: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if snr := audiotest.ToneSNR(s[4000:], rate, 604); snr < 25 {
		t.Errorf("bob recorded alice's 604 Hz tone at %.1f dB SNR, want >= 25", snr)
	}
}

// TestPlayLoopStop: --loop answers at once and plays until stopped; --stop says whether
// something played; a blocking play stopped by --stop answers "stopped".
func TestPlayLoopStop(t *testing.T) {
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{device: media.NewNull()})
	_, cb := established(t, a, b)
	sound := filepath.Join(t.TempDir(), "beep.wav")
	if err := audiotest.WriteTone(sound, 1000, 0.3, 8000, 0.3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, File: sound, Loop: true})
	if err != nil || !res.(PlayResult).Playing || time.Since(start) > time.Second {
		t.Fatalf("play --loop: %+v, %v after %s; want playing at once", res, err, time.Since(start))
	}
	time.Sleep(time.Second) // more than three times the sound
	if res, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, Stop: true}); err != nil || !res.(PlayResult).Stopped {
		t.Errorf("play --stop: %+v, %v; want stopped", res, err)
	}
	if res, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, Stop: true}); err != nil || res.(PlayResult).Stopped {
		t.Errorf("play --stop with nothing playing: %+v, %v; want not stopped, no error", res, err)
	}

	long := filepath.Join(t.TempDir(), "long.wav")
	if err := audiotest.WriteTone(long, 1000, 0.3, 8000, 10); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _ = b.mgr.StopPlay(context.Background(), cb.ID)
	}()
	res, err = voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, File: long})
	if err != nil || !res.(PlayResult).Stopped {
		t.Errorf("play stopped by --stop: %+v, %v; want stopped", res, err)
	}
}

// TestVoiceBadInput: a voice-app command on a call that has ended, the call ending while a sound
// plays or a recording runs, a missing file, a relative path, a file that is not a WAV, a
// floating-point WAV and a WAV without samples each get a clear error (or, for a recording the
// call ended, a result saying so), and the phone goes on.
func TestVoiceBadInput(t *testing.T) {
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{device: media.NewNull()})
	_, cb := established(t, a, b)
	dir := t.TempDir()
	play := func(file string) error {
		_, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, File: file})
		return err
	}
	notWAV := filepath.Join(dir, "notes.wav")
	if err := os.WriteFile(notWAV, []byte("these are not samples\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	float := filepath.Join(dir, "float.wav")
	if err := os.WriteFile(float, floatWAV(), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.wav")
	if err := audiotest.WriteWAV(empty, nil, 8000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.wav"), "there is no such file"},
		{"greeting.wav", "absolute path"},
		{dir, "is a directory"},
		{notWAV, "not a RIFF/WAVE file (trayphone plays PCM WAV files"},
		{float, "unsupported format tag 0x3 (only integer PCM)"},
		{empty, "holds no audio"},
	} {
		if err := play(tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("play %s: got %v, want an error saying %q", tc.file, err, tc.want)
		}
	}
	if _, err := voiceCmd(t, RecordFarCommand(b.mgr), ctx(t), recordFarArgs{ID: cb.ID, File: filepath.Join(dir, "no-such-dir", "x.wav")}); err == nil || !strings.Contains(err.Error(), "cannot record to") {
		t.Errorf("record-far into a missing directory: got %v", err)
	}
	if _, err := voiceCmd(t, RecordFarCommand(b.mgr), ctx(t), recordFarArgs{ID: cb.ID, File: filepath.Join(dir, "x.wav"), Seconds: -1}); err == nil || !strings.Contains(err.Error(), "seconds") {
		t.Errorf("record-far --seconds -1: got %v", err)
	}

	// The call ends while a long sound plays and a recording runs.
	long := filepath.Join(dir, "long.wav")
	if err := audiotest.WriteTone(long, 1000, 0.3, 8000, 20); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "rec.wav")
	recDone := make(chan RecordResult, 1)
	go func() {
		res, err := voiceCmd(t, RecordFarCommand(b.mgr), context.Background(), recordFarArgs{ID: cb.ID, File: rec})
		if err != nil {
			t.Errorf("record-far: %v", err)
		}
		r, _ := res.(RecordResult)
		recDone <- r
	}()
	go func() {
		time.Sleep(time.Second)
		_ = a.mgr.Hangup(context.Background(), "")
	}()
	err := play(long)
	if err == nil || !strings.Contains(err.Error(), "the call ended while playing") {
		t.Errorf("play while the far end hangs up: got %v, want \"the call ended while playing\"", err)
	}
	select {
	case r := <-recDone:
		if r.Ended != "the call ended" || r.Seconds < 0.5 {
			t.Errorf("recording when the call ended: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Error("the recording did not end with the call")
	}
	b.waitState(5*time.Second, phone.CallEnded)

	// The call has ended: every voice command says so.
	if err := play(long); err == nil || !strings.Contains(err.Error(), "call "+cb.ID+" has ended") {
		t.Errorf("play on an ended call: got %v", err)
	}
	if _, err := voiceCmd(t, RecordFarCommand(b.mgr), ctx(t), recordFarArgs{ID: cb.ID, File: filepath.Join(dir, "late.wav")}); err == nil || !strings.Contains(err.Error(), "has ended") {
		t.Errorf("record-far on an ended call: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "late.wav")); err == nil {
		t.Error("record-far on an ended call left a file behind")
	}
	if _, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, Stop: true}); err == nil || !strings.Contains(err.Error(), "has ended") {
		t.Errorf("play --stop on an ended call: got %v", err)
	}
	// The phone goes on: a new call plays.
	_, cb = established(t, a, b)
	short := filepath.Join(dir, "short.wav")
	if err := audiotest.WriteTone(short, 1000, 0.3, 8000, 0.2); err != nil {
		t.Fatal(err)
	}
	if _, err := voiceCmd(t, PlayCommand(b.mgr), ctx(t), playArgs{ID: cb.ID, File: short}); err != nil {
		t.Errorf("play on the next call: %v", err)
	}
}

// floatWAV is a one-second 8 kHz mono WAV of 32-bit floating-point samples (format tag 3).
func floatWAV() []byte {
	n := 8000
	b := make([]byte, 44+4*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+4*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 3)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 32000)
	binary.LittleEndian.PutUint16(b[32:], 4)
	binary.LittleEndian.PutUint16(b[34:], 32)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(4*n))
	return b
}

// TestVoicemailAnsweredCall: an answered call sent to the answering machine (a voice app's
// "press 2") hears the greeting and leaves a message; a sound playing is stopped for it.
func TestVoicemailAnsweredCall(t *testing.T) {
	vm, got := newMachine(t)
	b := startCore(t, "bob", coreOpts{voicemail: vm, device: media.NewNull()})
	a := startCore(t, "alice", coreOpts{toneHz: 604})
	_, cb := established(t, a, b)
	long := filepath.Join(t.TempDir(), "menu.wav")
	if err := audiotest.WriteTone(long, 1000, 0.3, 8000, 20); err != nil {
		t.Fatal(err)
	}
	played := make(chan any, 1)
	go func() {
		res, err := voiceCmd(t, PlayCommand(b.mgr), context.Background(), playArgs{ID: cb.ID, File: long})
		if err != nil {
			t.Errorf("play: %v", err)
		}
		played <- res
	}()
	time.Sleep(500 * time.Millisecond)
	if err := b.mgr.SendToVoicemail(ctx(t), cb.ID); err != nil {
		t.Fatalf("send the answered call to voicemail: %v", err)
	}
	select {
	case res := <-played:
		if pr, _ := res.(PlayResult); !pr.Stopped {
			t.Errorf("the sound playing when the machine took the call: %+v, want stopped", res)
		}
	case <-time.After(2 * time.Second):
		t.Error("the sound went on playing over the answering machine")
	}
	if c := b.wait(2*time.Second, "the machine's call", func(ci phone.CallInfo) bool { return ci.Voicemail }); c.State != phone.CallActive {
		t.Errorf("the machine's call is %s", c.State)
	}
	if err := b.mgr.SendToVoicemail(ctx(t), cb.ID); err == nil || !strings.Contains(err.Error(), "with the answering machine already") {
		t.Errorf("sending it again: got %v", err)
	}
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
}

// TestAppServerManyCalls: two application servers (AppServer, MaxCalls 6). Alice places six
// calls to bob at once: all ring (from one address), bob answers each and none is put on hold
// on either side; bob plays a different tone into each call at the same time, and alice's
// record-far of each call holds that call's tone alone, cleanly. A seventh call gets 486. (A
// phone that is not an application server takes at most two ringing calls from one address and
// four calls in all, and holds the others when it answers one.)
func TestAppServerManyCalls(t *testing.T) {
	const n = 6
	a := startCore(t, "alice", coreOpts{appServer: true, maxCalls: n + 1, device: media.NewNull()})
	b := startCore(t, "bob", coreOpts{appServer: true, maxCalls: n, device: media.NewNull()})
	var out []phone.CallInfo
	for range n {
		ci, err := a.mgr.Call(ctx(t), b.ua.AOR(), "")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ci)
	}
	var in []string
	for len(in) < n {
		c := b.waitState(5*time.Second, phone.CallIncoming)
		in = append(in, c.ID)
	}
	for _, id := range in {
		if err := b.mgr.Answer(ctx(t), id); err != nil {
			t.Fatalf("answer %s: %v", id, err)
		}
	}
	waitAll := func(c *core) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			calls := c.mgr.Status().Calls
			active := 0
			for _, ci := range calls {
				if ci.State == phone.CallActive && !ci.LocalHold && !ci.RemoteHold {
					active++
				}
			}
			if active == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d calls active and not held: %+v", c.name, active, n, calls)
			}
		}
	}
	waitAll(a)
	waitAll(b)

	// A tone per call, all at once; alice records each.
	dir := t.TempDir()
	freq := func(i int) float64 { return 500 + 250*float64(i) }
	type rec struct {
		path string
		res  RecordResult
		err  error
	}
	recs := make(chan rec, n)
	for i, ci := range out {
		path := filepath.Join(dir, fmt.Sprintf("call%d.wav", i))
		go func() {
			res, err := voiceCmd(t, RecordFarCommand(a.mgr), context.Background(), recordFarArgs{ID: ci.ID, File: path, Seconds: 3})
			r, _ := res.(RecordResult)
			recs <- rec{path, r, err}
		}()
	}
	// Bob's call i is alice's call i: they were answered in the order they rang, and each
	// call's remote RTP port pairs them; match by what alice records instead of assuming.
	plays := make(chan error, n)
	for i, id := range in {
		sound := filepath.Join(dir, fmt.Sprintf("tone%d.wav", i))
		if err := audiotest.WriteTone(sound, freq(i), 0.5, 8000, 2); err != nil {
			t.Fatal(err)
		}
		go func() {
			_, err := voiceCmd(t, PlayCommand(b.mgr), context.Background(), playArgs{ID: id, File: sound})
			plays <- err
		}()
	}
	for range n {
		if err := <-plays; err != nil {
			t.Errorf("play: %v", err)
		}
	}
	seen := map[int]bool{}
	for range n {
		r := <-recs
		if r.err != nil {
			t.Errorf("record-far: %v", r.err)
			continue
		}
		s, rate, err := audiotest.ReadWAVMono(r.path)
		if err != nil {
			t.Fatal(err)
		}
		a := audiotest.Analyze(s, rate)
		i := int(math.Round((a.DominantHz - 500) / 250))
		if i < 0 || i >= n || seen[i] {
			t.Errorf("%s: dominant %.0f Hz, not one call's tone (or twice)", filepath.Base(r.path), a.DominantHz)
			continue
		}
		seen[i] = true
		c, err := audiotest.MeasureCall(s, rate, freq(i))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(r.path), err)
			continue
		}
		if c.SINADdB < 30 || c.Clicks > 0 || c.Gaps > 0 || c.End-c.Start < 1500*time.Millisecond {
			if disturbance(t) == 0 {
				t.Errorf("%s: %v; want its own tone alone, >= 30 dB, no clicks or gaps", filepath.Base(r.path), c)
			}
		}
	}

	// One more is one too many for bob.
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	e := a.wait(5*time.Second, "the seventh call to end", func(ci phone.CallInfo) bool { return ci.State == phone.CallEnded })
	if !strings.Contains(e.EndReason, "486") && !strings.Contains(strings.ToLower(e.EndReason), "busy") {
		t.Errorf("the seventh call ended %q, want busy", e.EndReason)
	}
}
