package control

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestCLIPlayRecordFar: play and record-far send absolute paths and their flags, print what the
// phone answered, and refuse usage mistakes (exit 2) without reaching the phone; the phone's
// refusal is shown (exit 1).
func TestCLIPlayRecordFar(t *testing.T) {
	ts := startServer(t)
	var mu sync.Mutex
	var plays []PlayArgs
	var recs []RecordFarArgs
	ts.srv.Handle("play", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a PlayArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		mu.Lock()
		plays = append(plays, a)
		mu.Unlock()
		switch {
		case a.ID == "9":
			return nil, errors.New("call 9 has ended (the far end hung up)")
		case a.Stop:
			return PlayResult{Call: a.ID, Stopped: true}, nil
		}
		return PlayResult{Call: a.ID, File: a.File, Seconds: 2, Playing: a.Loop}, nil
	})
	ts.srv.Handle("record-far", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a RecordFarArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		mu.Lock()
		recs = append(recs, a)
		mu.Unlock()
		if a.Stop {
			return map[string]any{"call": a.ID, "stopped": false}, nil
		}
		return RecordFarResult{File: a.File, Seconds: a.Seconds, Ended: "the time limit"}, nil
	})
	wd, _ := os.Getwd()
	abs := filepath.Join(wd, "greeting.wav")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"play", "1", "greeting.wav"}, "played " + abs + " (2.0 s) into call 1\n"},
		{[]string{"play", "1", "greeting.wav", "--loop"}, "playing " + abs + " into call 1 again and again (stop with: trayphone play 1 --stop)\n"},
		{[]string{"play", "1", "--stop"}, "stopped\n"},
		{[]string{"record-far", "1", "msg.wav", "--seconds", "2.5"}, "recorded 2.5 s of call 1 into " + filepath.Join(wd, "msg.wav") + " (ended by the time limit)\n"},
		{[]string{"record-far", "--stop", "1"}, "nothing was being recorded\n"},
	} {
		if code, out, errOut := runCLI(t, ts.path, tc.args...); code != 0 || out != tc.want {
			t.Errorf("%v: exit %d, %q (%q); want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	wantPlays := []PlayArgs{{ID: "1", File: abs}, {ID: "1", File: abs, Loop: true}, {ID: "1", Stop: true}}
	wantRecs := []RecordFarArgs{{ID: "1", File: filepath.Join(wd, "msg.wav"), Seconds: 2.5}, {ID: "1", Stop: true}}
	mu.Lock()
	if len(plays) != len(wantPlays) || len(recs) != len(wantRecs) {
		t.Fatalf("the phone got %+v and %+v, want %+v and %+v", plays, recs, wantPlays, wantRecs)
	}
	for i := range wantPlays {
		if plays[i] != wantPlays[i] {
			t.Errorf("play %d: %+v, want %+v", i, plays[i], wantPlays[i])
		}
	}
	for i := range wantRecs {
		if recs[i] != wantRecs[i] {
			t.Errorf("record-far %d: %+v, want %+v", i, recs[i], wantRecs[i])
		}
	}
	mu.Unlock()

	for _, args := range [][]string{
		{"play", "1"}, {"play", "1", "x.wav", "--stop"}, {"play"}, {"play", "1", "x.wav", "y.wav"},
		{"record-far", "1"}, {"record-far", "1", "--stop", "--seconds", "3"}, {"record-far", "1", "x.wav", "--seconds", "-2"},
		{"record-far", "1", "x.wav", "--seconds", "soon"}, {"say", "1"}, {"say", "1", "   "},
	} {
		if code, _, errOut := runCLI(t, ts.path, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, %q; want a usage error", args, code, errOut)
		}
	}
	mu.Lock()
	if len(plays) != 3 || len(recs) != 2 {
		t.Errorf("usage errors reached the phone: %+v %+v", plays[3:], recs[2:])
	}
	mu.Unlock()
	if code, _, errOut := runCLI(t, ts.path, "play", "9", "x.wav"); code != 1 || !strings.Contains(errOut, "call 9 has ended") {
		t.Errorf("the phone refused: exit %d, %q", code, errOut)
	}
}

// TestCLISay: say runs espeak-ng with the text on its standard input — shell syntax and a leading
// dash in the text (after "--") are spoken, never run or taken for options — and plays the WAV it made, which
// exists (0600) while it plays and is removed afterwards. Without espeak-ng, say says so.
func TestCLISay(t *testing.T) {
	if _, err := exec.LookPath(espeakProgram); err != nil {
		t.Skipf("%s is not installed (scripts/setup.sh installs it)", espeakProgram)
	}
	ts := startServer(t)
	var files []string
	var sizes []int64
	var modes []os.FileMode
	ts.srv.Handle("play", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a PlayArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		st, err := os.Stat(a.File)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(a.File)
		if err != nil || len(b) < 44 || string(b[:4]) != "RIFF" || binary.LittleEndian.Uint16(b[20:]) != 1 {
			return nil, errors.New("not a PCM WAV")
		}
		files, sizes, modes = append(files, a.File), append(sizes, st.Size()), append(modes, st.Mode().Perm())
		return PlayResult{Call: a.ID, File: a.File, Seconds: float64(st.Size()-44) / 2 / float64(binary.LittleEndian.Uint32(b[24:]))}, nil
	})
	marker := filepath.Join(t.TempDir(), "pwned")
	text := "-x press 1 for sales; touch " + marker + " $(touch " + marker + ")"
	code, out, errOut := runCLI(t, ts.path, "say", "1", "--", text)
	if code != 0 || !strings.HasPrefix(out, "said it (") {
		t.Fatalf("say: exit %d, %q, %q", code, out, errOut)
	}
	if len(files) != 1 || sizes[0] < 16000 || modes[0] != 0o600 {
		t.Fatalf("played %v of %v bytes, modes %v; want one WAV of a few seconds, 0600", files, sizes, modes)
	}
	if _, err := os.Stat(files[0]); err == nil {
		t.Errorf("say left %s behind", files[0])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the text was run as a command")
	}

	t.Setenv("PATH", t.TempDir())
	code, _, errOut = runCLI(t, ts.path, "say", "1", "hello")
	if code != 1 || !strings.Contains(errOut, "espeak-ng, which is not installed") {
		t.Errorf("say without espeak-ng: exit %d, %q", code, errOut)
	}
	if len(files) != 1 {
		t.Errorf("say without espeak-ng reached the phone")
	}
}
