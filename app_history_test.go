package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// waitNoCalls polls until the instance has no call.
func (i *instance) waitNoCalls() {
	i.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if len(i.status().Calls) == 0 {
			return
		}
	}
	i.t.Fatalf("calls still under way: %+v", i.status().Calls)
}

// TestHistorySurvivesRestart drives two real trayphone processes with the CLI: an answered call,
// a declined one and a missed one, then restarts Alice's phone. "history --json" still lists the
// three, newest first, with the documented fields; the file is 0600; "redial" calls Bob again.
func TestHistorySurvivesRestart(t *testing.T) {
	a := startInstance(t, "alice", 604)
	b := startInstance(t, "bob", 1004)
	aAddr, bAddr := a.status().Contact[0], b.status().Contact[0]

	a.cli("call", bAddr) // answered
	b.waitCall(phone.CallIncoming)
	b.cli("answer")
	a.waitCall(phone.CallActive)
	time.Sleep(1500 * time.Millisecond)
	a.cli("hangup")
	a.waitNoCalls()
	b.waitNoCalls()

	a.cli("call", bAddr) // declined by Bob
	b.waitCall(phone.CallIncoming)
	b.cli("hangup")
	a.waitNoCalls()
	b.waitNoCalls()

	b.cli("call", aAddr) // missed by Alice: Bob gives up
	a.waitCall(phone.CallIncoming)
	b.cli("hangup")
	a.waitNoCalls()
	b.waitNoCalls()

	a.restart()

	out := a.cli("history", "--json")
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	var h []phone.HistoryEntry
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("after a restart, history --json lists %d calls, want 3:\n%s", len(h), out)
	}
	want := []struct{ dir, result string }{{"incoming", "missed"}, {"outgoing", "declined"}, {"outgoing", "answered"}}
	for i, w := range want {
		r := raw[i]
		for _, k := range []string{"remote", "name", "direction", "result", "start", "duration", "account"} {
			if _, ok := r[k]; !ok {
				t.Errorf("call %d has no %q: %v", i, k, r)
			}
		}
		if r["direction"] != w.dir || r["result"] != w.result {
			t.Errorf("call %d: %v/%v, want %s/%s (newest first)", i, r["direction"], r["result"], w.dir, w.result)
		}
		if s, _ := r["start"].(string); s == "" {
			t.Errorf("call %d: start %v is not a string", i, r["start"])
		} else if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("call %d: start %q is not RFC 3339: %v", i, s, err)
		}
		if _, ok := r["duration"].(float64); !ok {
			t.Errorf("call %d: duration %v is not a number of seconds", i, r["duration"])
		}
		if !strings.HasPrefix(h[i].Remote, "sip:bob@127.0.0.1:") {
			t.Errorf("call %d: remote %q, want Bob", i, h[i].Remote)
		}
	}
	if h[2].Duration < 1 || h[2].Duration > 5 {
		t.Errorf("the answered call lasted %v s, want about 1.5 s", h[2].Duration)
	}
	if h[0].Duration != 0 || h[1].Duration != 0 {
		t.Errorf("unanswered calls with a duration: %v, %v", h[0].Duration, h[1].Duration)
	}
	if text := a.cli("history"); !strings.Contains(text, "missed (new)") || !strings.Contains(text, "declined") {
		t.Errorf("history (text) does not show the new missed call and the declined one:\n%s", text)
	}
	fi, err := os.Stat(filepath.Join(a.home, "state", "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("history file mode %v, want 0600", m)
	}

	// Redial calls the latest outgoing call's remote: Bob.
	if out := a.cli("redial"); !strings.Contains(out, "calling sip:bob@127.0.0.1:") {
		t.Errorf("redial: %q", out)
	}
	in := b.waitCall(phone.CallIncoming)
	if !strings.HasPrefix(in.Remote, "sip:alice@") {
		t.Errorf("Bob sees the redial from %q, want Alice", in.Remote)
	}
	b.cli("hangup")
	a.waitNoCalls()

	var bh []phone.HistoryEntry
	if err := json.Unmarshal([]byte(b.cli("history", "--json")), &bh); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range bh {
		got = append(got, e.Direction.String()+"/"+e.Result)
	}
	if g, w := strings.Join(got, " "), "incoming/declined outgoing/cancelled incoming/declined incoming/answered"; g != w {
		t.Errorf("Bob's history: %s, want %s", g, w)
	}
}

// TestDamagedHistoryStarts: a history file cut short in the middle of a line, with a line of
// garbage in it, does not stop the phone: it starts, lists the calls it could read, and its log
// says what was dropped.
func TestDamagedHistoryStarts(t *testing.T) {
	a := startInstance(t, "alice", 604)
	a.stop()
	state := filepath.Join(a.home, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	damaged := `{"trayphone_history":1}
{"remote":"sip:bob@192.0.2.1","name":"Bob","direction":"outgoing","result":"answered","start":"2026-12-07T09:00:00Z","duration":42,"account":""}
garbage
{"remote":"sip:carol@192.0.2.2","name":"","direction":"incoming","result":"missed","start":"2026-12-07T10:00:00Z","duration":0,"account":""}
{"remote":"sip:dave@192.0.2.3","name":"","direction":"incom`
	if err := os.WriteFile(filepath.Join(state, "history.jsonl"), []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}
	a.restart()
	var h []phone.HistoryEntry
	if err := json.Unmarshal([]byte(a.cli("history", "--json")), &h); err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Remote != "sip:carol@192.0.2.2" || h[1].Remote != "sip:bob@192.0.2.1" || h[1].Duration != 42 {
		t.Errorf("history after a damaged file: %+v, want carol's and bob's calls", h)
	}
	a.stop() // its output is complete (and no longer written) once it has exited
	log := a.log.String()
	for _, want := range []string{"is damaged", "kept 2 calls", "dropped 2 unreadable lines", "line 3", "history.jsonl.corrupt"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
}

// TestFavoriteWithSpaces: a favorite named with a quoted TOML key holding a space ("Front desk")
// is accepted, called by that name from the CLI, and filed in the history under it.
func TestFavoriteWithSpaces(t *testing.T) {
	a := startInstance(t, "alice", 604)
	b := startInstance(t, "bob", 1004)
	bAddr := b.status().Contact[0]
	a.stop()
	cfg := "[sip]\nuser = \"alice\"\n\n[favorites]\n\"Front desk\" = \"" + bAddr + "\"\n"
	if err := os.WriteFile(filepath.Join(a.home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a.restart()
	a.cli("call", "Front desk")
	in := b.waitCall(phone.CallIncoming)
	if !strings.HasPrefix(in.Remote, "sip:alice@") {
		t.Errorf("Bob sees a call from %q, want Alice", in.Remote)
	}
	b.cli("hangup")
	a.waitNoCalls()
	var h []phone.HistoryEntry
	if err := json.Unmarshal([]byte(a.cli("history", "--json")), &h); err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Name != "Front desk" || h[0].Remote != bAddr || h[0].Result != phone.ResultDeclined {
		t.Errorf("history: %+v, want the declined call to Front desk (%s)", h, bAddr)
	}
}
