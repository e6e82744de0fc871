package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestCLIScreenAndMessages: the screen, block and messages commands print what the core says in
// words, pass their arguments, and refuse a wrong sub-command as a usage mistake (exit 2).
func TestCLIScreenAndMessages(t *testing.T) {
	ts := startServer(t)
	ts.srv.Handle("screen.list", func(context.Context, json.RawMessage) (any, error) {
		return []screenRule{{N: 1, Match: "anonymous", Action: "reject", Where: "c.toml:3"}, {N: 2, Match: "+1900*", Action: "voicemail", When: "Mon-Fri 09:00-18:00", Where: "c.toml:7"}}, nil
	})
	ts.srv.Handle("screen.test", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a map[string]string
		_ = json.Unmarshal(raw, &a)
		return map[string]any{"uri": a["uri"], "rule": 1, "action": "reject", "why": "rule 1: the caller withheld their identity", "anonymous": true}, nil
	})
	ts.srv.Handle("screen.block", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a map[string]string
		_ = json.Unmarshal(raw, &a)
		return screenRule{N: 1, Match: "sip:" + a["target"], Action: "reject", Where: "c.toml"}, nil
	})
	start := time.Date(2026, 12, 7, 22, 30, 5, 0, time.Local)
	ts.srv.Handle("messages", func(context.Context, json.RawMessage) (any, error) {
		return []phone.VoicemailMessage{{ID: "20261207-223005", From: "sip:bob@example.com", Name: "Bob", Start: start, Duration: 72.4, File: "/s/messages/20261207-223005.wav", New: true}}, nil
	})
	var played string
	ts.srv.Handle("messages.play", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a map[string]string
		_ = json.Unmarshal(raw, &a)
		played = a["id"]
		return phone.VoicemailMessage{ID: a["id"], From: "sip:bob@example.com", Duration: 72.4}, nil
	})

	want := "#  MATCH      ACTION     WHEN                 WHERE\n" +
		"1  anonymous  reject     always               c.toml:3\n" +
		"2  +1900*     voicemail  Mon-Fri 09:00-18:00  c.toml:7\n"
	if code, out, errOut := runCLI(t, ts.path, "screen", "list"); code != 0 || out != want {
		t.Errorf("screen list: %d %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	if code, out, _ := runCLI(t, ts.path, "screen", "test", "sip:anonymous@anonymous.invalid"); code != 0 ||
		out != "sip:anonymous@anonymous.invalid: reject\nrule 1: the caller withheld their identity\n" {
		t.Errorf("screen test: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, ts.path, "block", "spam@bad.example"); code != 0 || !strings.Contains(out, `blocked spam@bad.example: rule 1 in c.toml (match = "sip:spam@bad.example", action = "reject")`) {
		t.Errorf("block: %d %q", code, out)
	}
	want = "ID               START                LENGTH  FROM                       \n" +
		"20261207-223005  2026-12-07 22:30:05  1:12    Bob <sip:bob@example.com>  new\n"
	if code, out, errOut := runCLI(t, ts.path, "messages"); code != 0 || out != want {
		t.Errorf("messages: %d %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	_, out, _ := runCLI(t, ts.path, "messages", "--json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("messages --json: %v in %s", err, out)
	}
	for _, k := range []string{"id", "from", "start", "duration", "file", "new"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("messages --json has no %q: %v", k, got[0])
		}
	}
	if code, out, _ := runCLI(t, ts.path, "messages", "play", "20261207-223005"); code != 0 || played != "20261207-223005" || !strings.Contains(out, "playing message 20261207-223005") {
		t.Errorf("messages play: %d %q (played %q)", code, out, played)
	}
	for _, bad := range [][]string{{"screen", "nuke"}, {"screen", "test"}, {"messages", "play"}, {"messages", "listen", "x"}} {
		if code, _, errOut := runCLI(t, ts.path, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d %q, want 2 and what is wrong", bad, code, errOut)
		}
	}
}
