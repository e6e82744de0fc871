package control

import (
	"encoding/json"
	"strings"
	"testing"

	"trayphone/internal/phone"
)

// TestCLICallsConference: calls joined in a local conference say so in `calls` and `status`, and
// `calls --json` carries the conference's call IDs.
func TestCLICallsConference(t *testing.T) {
	ts := startServer(t)
	ts.core.mu.Lock()
	ts.core.status.Calls = []phone.CallInfo{
		{ID: "1", Direction: phone.Outgoing, Remote: "sip:bob@example.com", State: phone.CallActive, Codec: "PCMU", Duration: 65, Conference: []string{"1", "2", "3"}},
		{ID: "2", Direction: phone.Incoming, Remote: "sip:carol@example.com", State: phone.CallActive, Codec: "PCMU", Duration: 40, Muted: true, Conference: []string{"1", "2", "3"}},
		{ID: "3", Direction: phone.Outgoing, Remote: "sip:dave@example.com", State: phone.CallActive, Codec: "PCMU", Duration: 12, Conference: []string{"1", "2", "3"}},
		{ID: "4", Direction: phone.Incoming, Remote: "sip:erin@example.com", State: phone.CallIncoming},
	}
	ts.core.mu.Unlock()

	want := `CALL  DIRECTION  REMOTE                 STATE                                 CODEC  DURATION
1     outgoing   sip:bob@example.com    active (conference with 2, 3)         PCMU   1m05s
2     incoming   sip:carol@example.com  active (muted; conference with 1, 3)  PCMU   40s
3     outgoing   sip:dave@example.com   active (conference with 1, 2)         PCMU   12s
4     incoming   sip:erin@example.com   incoming                                     0s
`
	code, out, errOut := runCLI(t, ts.path, "calls")
	if code != 0 || errOut != "" || out != want {
		t.Errorf("calls: got %d, %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	if _, out, _ := runCLI(t, ts.path, "status"); !strings.HasSuffix(out, want) {
		t.Errorf("status: got\n%s\nwant it to end with\n%s", out, want)
	}

	_, out, _ = runCLI(t, ts.path, "calls", "--json")
	var calls []phone.CallInfo
	if err := json.Unmarshal([]byte(out), &calls); err != nil || len(calls) != 4 {
		t.Fatalf("calls --json: %v in %s", err, out)
	}
	if got := calls[1].Conference; strings.Join(got, ",") != "1,2,3" {
		t.Errorf("calls --json: call 2's conference is %v, want [1 2 3]", got)
	}
	if strings.Count(out, `"conference"`) != 3 {
		t.Errorf("calls --json: want \"conference\" on the three joined calls only:\n%s", out)
	}
}
