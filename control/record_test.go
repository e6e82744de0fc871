package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"trayphone/internal/phone"
)

// TestCLIRecord: `record on|off [ID]` sends the right arguments, prints the file, and refuses
// anything but on or off; `calls` marks a call being recorded and `calls --json` names its file.
func TestCLIRecord(t *testing.T) {
	ts := startServer(t)
	var got []RecordArgs
	ts.srv.Handle("record", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a RecordArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		got = append(got, a)
		return RecordResult{File: "/state/recordings/x.wav"}, nil
	})
	if code, out, errOut := runCLI(t, ts.path, "record", "on", "2"); code != 0 || out != "recording to /state/recordings/x.wav\n" {
		t.Errorf("record on 2: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, ts.path, "record", "off"); code != 0 || out != "recording stopped: /state/recordings/x.wav\n" {
		t.Errorf("record off: %d %q", code, out)
	}
	if len(got) != 2 || got[0] != (RecordArgs{ID: "2", On: true}) || got[1] != (RecordArgs{On: false}) {
		t.Errorf("the phone was asked %+v", got)
	}
	if code, _, errOut := runCLI(t, ts.path, "record", "yes"); code != 2 || !strings.Contains(errOut, `want "on" or "off"`) {
		t.Errorf("record yes: %d %q, want exit 2 and what to say", code, errOut)
	}

	ts.core.mu.Lock()
	ts.core.status.Calls[0].Recording = "/state/recordings/x.wav"
	ts.core.mu.Unlock()
	if _, out, _ := runCLI(t, ts.path, "calls"); !strings.Contains(out, "active (recording; encrypted: srtp)") {
		t.Errorf("calls:\n%s\nwant the call marked recording", out)
	}
	_, out, _ := runCLI(t, ts.path, "calls", "--json")
	var calls []phone.CallInfo
	if err := json.Unmarshal([]byte(out), &calls); err != nil || len(calls) != 1 || calls[0].Recording != "/state/recordings/x.wav" {
		t.Errorf("calls --json: %v %s", err, out)
	}
}
