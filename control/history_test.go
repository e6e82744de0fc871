package control

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestCLIHistory: "history" prints the core's history as a table (new missed calls marked),
// "history --json" as the core gave it, "redial" prints the new call or the core's reason.
func TestCLIHistory(t *testing.T) {
	ts := startServer(t)
	start := time.Date(2026, 12, 7, 9, 30, 0, 0, time.Local)
	h := []phone.HistoryEntry{
		{Remote: "sip:bob@example.com", Name: "Bob", Direction: phone.Incoming, Result: phone.ResultMissed, Start: start.Add(time.Hour), Unseen: true},
		{Remote: "sip:carol@example.com", Direction: phone.Outgoing, Result: phone.ResultAnswered, Start: start, Duration: 75, Account: "work"},
	}
	ts.srv.Handle("history", func(context.Context, json.RawMessage) (any, error) { return h, nil })
	var haveOutgoing atomic.Bool
	ts.srv.Handle("redial", func(context.Context, json.RawMessage) (any, error) {
		if !haveOutgoing.Load() {
			return nil, errors.New("redial: nothing to redial: the call history has no outgoing call")
		}
		return phone.CallInfo{ID: "7", Remote: "sip:carol@example.com", State: phone.CallDialing}, nil
	})

	want := "START                DIRECTION  RESULT        DURATION  REMOTE                     ACCOUNT\n" +
		"2026-12-07 10:30:00  incoming   missed (new)  0:00      Bob <sip:bob@example.com>  \n" +
		"2026-12-07 09:30:00  outgoing   answered      1:15      sip:carol@example.com      work\n"
	if code, out, errOut := runCLI(t, ts.path, "history"); code != 0 || out != want {
		t.Errorf("history: got %d, %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	_, out, _ := runCLI(t, ts.path, "history", "--json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("history --json: %v in %s", err, out)
	}
	if got[1]["direction"] != "outgoing" || got[1]["result"] != "answered" || got[1]["duration"] != 75.0 || got[1]["account"] != "work" {
		t.Errorf("history --json: %v", got[1])
	}
	if code, _, errOut := runCLI(t, ts.path, "redial"); code != 1 || !strings.Contains(errOut, "nothing to redial") {
		t.Errorf("redial with no outgoing call: exit %d, %q; want 1 and the reason", code, errOut)
	}
	haveOutgoing.Store(true)
	if code, out, _ := runCLI(t, ts.path, "redial"); code != 0 || out != "calling sip:carol@example.com (call 7, dialing)\n" {
		t.Errorf("redial: exit %d, %q", code, out)
	}
}
