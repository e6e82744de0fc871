package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
)

// TestScreeningAndVoicemailByCLI drives two real trayphone processes: Alice's rules (read again
// with "screen reload") send Bob to her answering machine; "messages" lists his message with
// the documented fields, "messages play" plays it on her speaker (her --audio-out file), "delete"
// removes it; "block" puts a reject rule first in her config (her comments kept) and Bob's next
// call is refused; a bad rule is refused with file, line and rule, and the rules in use stay.
func TestScreeningAndVoicemailByCLI(t *testing.T) {
	a := startInstance(t, "alice", 604)
	b := startInstance(t, "bob", 1004)
	aAddr := a.status().Contact[0]
	cfgPath := filepath.Join(a.home, "config.toml")
	appendFile(t, cfgPath, "\n# Bob leaves messages\n[[screen]]\nmatch = \"sip:bob@*\" # him\naction = \"voicemail\"\n")
	if out := a.cli("screen", "reload"); !strings.Contains(out, "1 screening rules in use") {
		t.Fatalf("screen reload: %q", out)
	}
	out := a.cli("screen", "test", "sip:bob@127.0.0.1")
	if !strings.Contains(out, "voicemail") || !strings.Contains(out, "rule 1 ("+cfgPath+":5)") {
		t.Errorf("screen test: %q, want voicemail by rule 1 at line 5", out)
	}

	// Bob's call goes to the machine: greeting, beep, then 2 s of his tone.
	b.cli("call", aAddr)
	b.waitCall(phone.CallActive)
	if c := a.waitCall(phone.CallActive); !c.Voicemail {
		t.Errorf("alice's call is not the machine's: %+v", c)
	}
	time.Sleep(7500 * time.Millisecond)
	b.cli("hangup")
	a.waitNoCalls()
	b.waitNoCalls()

	var msgs []map[string]any
	for deadline := time.Now().Add(5 * time.Second); len(msgs) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := json.Unmarshal([]byte(a.cli("messages", "--json")), &msgs); err != nil {
			t.Fatal(err)
		}
	}
	if len(msgs) != 1 {
		t.Fatalf("messages --json: got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	for _, k := range []string{"id", "from", "start", "duration", "file", "new"} {
		if _, ok := m[k]; !ok {
			t.Errorf("message has no %q: %v", k, m)
		}
	}
	id, file := m["id"].(string), m["file"].(string)
	if !strings.HasPrefix(m["from"].(string), "sip:bob@") || m["new"] != true || m["duration"].(float64) < 1 || !strings.HasPrefix(file, filepath.Join(a.home)) {
		t.Errorf("message %v: want from bob, new, at least 1 s, in alice's state directory", m)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("message file %s: %v, mode %v; want 0600", file, err, fi.Mode().Perm())
	}
	if h := a.cli("history", "--json"); !strings.Contains(h, `"result": "voicemail"`) {
		t.Errorf("alice's history does not say voicemail:\n%s", h)
	}

	// Play it: it comes out of Alice's speaker (her --audio-out file), and is no longer new.
	if out := a.cli("messages", "play", id); !strings.Contains(out, "playing message "+id) {
		t.Errorf("messages play: %q", out)
	}
	time.Sleep(time.Duration(m["duration"].(float64)*float64(time.Second)) + 700*time.Millisecond)
	heard, rate, err := audiotest.ReadWAVMono(a.out)
	if err != nil {
		t.Fatal(err)
	}
	if snr := audiotest.ToneSNR(heard, rate, 1004); snr < 20 {
		t.Errorf("the played message on the speaker: 1004 Hz SNR %.1f dB over %.1f s, want Bob's tone", snr, float64(len(heard))/float64(rate))
	}
	var after []phone.VoicemailMessage
	if err := json.Unmarshal([]byte(a.cli("messages", "--json")), &after); err != nil || len(after) != 1 || after[0].New {
		t.Errorf("after playing: %+v, %v; want the message, no longer new", after, err)
	}
	a.cli("messages", "delete", id)
	if out := a.cli("messages"); !strings.Contains(out, "no messages") {
		t.Errorf("after delete: %q", out)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the deleted message's file is still there: %v", err)
	}
	if out, err := a.cliErr("messages", "play", id); err == nil || !strings.Contains(out, "no such message") {
		t.Errorf("playing a deleted message: %v %q", err, out)
	}

	// Block Bob: a reject rule first, the file's comments kept; his call is refused.
	bob := strings.Replace(b.status().Contact[0], "sip:", "", 1)
	if out := a.cli("block", bob); !strings.Contains(out, "rule 1") {
		t.Errorf("block: %q", out)
	}
	data, _ := os.ReadFile(cfgPath)
	if s := string(data); !strings.Contains(s, "# Bob leaves messages") || !strings.Contains(s, "# him") ||
		strings.Index(s, `action = "reject"`) > strings.Index(s, `action = "voicemail"`) {
		t.Errorf("config after block:\n%s", s)
	}
	b.cli("call", aAddr)
	b.waitNoCalls()
	if h := a.cli("history", "--json"); !strings.Contains(h, `"result": "screened"`) {
		t.Errorf("alice's history has no screened call:\n%s", h)
	}

	// A bad rule: refused with file, line and rule; the rules in use stay.
	appendFile(t, cfgPath, "\n[[screen]]\nmatch = \"unknown\"\naction = \"silent\"\nwhen = \"Mon-Fri 9:00-25:00\"\n")
	lines := strings.Count(string(data), "\n") + 5
	out, err = a.cliErr("screen", "reload")
	if want := fmt.Sprintf("%s:%d: screen.when: rule 3:", cfgPath, lines); err == nil || !strings.Contains(out, want) || !strings.Contains(out, "keeps the ones it has") {
		t.Errorf("screen reload with a bad rule: %v\n%s\nwant an error naming %q", err, out, want)
	}
	if out := a.cli("screen", "list"); strings.Count(out, "\n") != 3 || !strings.Contains(out, "reject") {
		t.Errorf("screen list after a refused reload: want the 2 rules in use:\n%s", out)
	}
	b.cli("call", aAddr)
	b.waitNoCalls()
	if st := a.status(); len(st.Calls) != 0 {
		t.Errorf("alice: %+v", st.Calls)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
