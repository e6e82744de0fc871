package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestHooksAndRecordingRealBinary: two real trayphones. Bob's [hooks] run for the incoming,
// answered and ended call with the call in their environment — Alice's display name, full of
// shell syntax, arrives as text and runs nothing — and [audio] record_calls records the call
// into Bob's state directory, which `calls --json` and `record off|on` show and change.
func TestHooksAndRecordingRealBinary(t *testing.T) {
	dir := t.TempDir()
	short, err := os.MkdirTemp("/tmp", "tp") // a short path: display names are cut at 64 characters
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	pwned := filepath.Join(short, "p")
	hook := filepath.Join(dir, "hook.sh")
	body := `#!/bin/sh
out="` + dir + `/$TRAYPHONE_EVENT.env"
{ printf 'id=%s\nremote=%s\nname=%s\ndirection=%s\nresult=%s\n' "$TRAYPHONE_CALL_ID" "$TRAYPHONE_REMOTE" "$TRAYPHONE_NAME" "$TRAYPHONE_DIRECTION" "$TRAYPHONE_RESULT"; echo END; } > "$out.tmp" && mv "$out.tmp" "$out"
`
	if err := os.WriteFile(hook, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	name := "M $(touch " + pwned + ") `touch " + pwned + "`;'x"
	a := startInstanceWith(t, "alice", 604, fmt.Sprintf("display_name = %q\n", name))
	b := startInstanceWith(t, "bob", 1004, fmt.Sprintf(`
[audio]
record_calls = true

[hooks]
incoming = [%q]
answered = [%q]
ended = [%q, "an argument"]
timeout = 5
`, hook, hook, hook))
	a.cli("call", b.status().Contact[0])
	in := b.waitCall(phone.CallIncoming)
	b.cli("answer")
	a.waitCall(phone.CallActive)
	active := b.waitCall(phone.CallActive)
	if active.Recording == "" {
		// record_calls starts with the answer; the file is being created.
		time.Sleep(300 * time.Millisecond)
		active = b.waitCall(phone.CallActive)
	}
	first := active.Recording
	if !strings.HasPrefix(first, filepath.Join(b.home, "state", "recordings")+string(filepath.Separator)) {
		t.Errorf("calls --json: recording %q, want a file in %s/state/recordings", first, b.home)
	}
	time.Sleep(1500 * time.Millisecond)
	if out := b.cli("record", "off"); !strings.Contains(out, first) {
		t.Errorf("record off: %q", out)
	}
	out := b.cli("record", "on", active.ID)
	second := strings.TrimSpace(strings.TrimPrefix(out, "recording to "))
	if second == first || !strings.HasPrefix(out, "recording to ") {
		t.Errorf("record on: %q, want a new file", out)
	}
	var calls []map[string]any
	if err := json.Unmarshal([]byte(b.cli("calls", "--json")), &calls); err != nil || len(calls) != 1 || calls[0]["recording"] != second {
		t.Errorf("calls --json: %v %v, want recording %q", err, calls, second)
	}
	time.Sleep(time.Second)
	a.cli("hangup")
	a.waitNoCalls()
	b.waitNoCalls()
	for _, ev := range []string{"incoming", "answered", "ended"} {
		path := filepath.Join(dir, ev+".env")
		var got []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, _ = os.ReadFile(path); strings.HasSuffix(string(got), "END\n") {
				break
			}
		}
		result := ""
		if ev == "ended" {
			result = "answered"
		}
		want := fmt.Sprintf("id=%s\nremote=%s\nname=%s\ndirection=incoming\nresult=%s\nEND\n", in.ID, in.Remote, in.RemoteName, result)
		if string(got) != want {
			t.Errorf("%s hook saw\n%s\nwant\n%s", ev, got, want)
		}
	}
	if in.RemoteName != name {
		t.Errorf("the display name as the phone shows it: %q, want %q as sent", in.RemoteName, name)
	}
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the caller's display name ran a command: %s exists", pwned)
	}
	b.stop()
	for _, f := range []string{first, second} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 || fi.Size() < 44+4*8000 {
			t.Errorf("%s: mode %v, %d bytes; want 0600 and at least a second of stereo audio", f, fi.Mode().Perm(), fi.Size())
		}
	}
}
