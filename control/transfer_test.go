package control

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"trayphone/internal/phone"
)

// TestCLITransfer: "transfer ID TARGET" and "transfer ID --to ID2" send the right arguments and
// print the transfer; --json prints the call; a missing target or both at once are usage errors
// (exit 2) that never reach the phone; the core's refusal is shown (exit 1).
func TestCLITransfer(t *testing.T) {
	ts := startServer(t)
	var got []TransferArgs
	ts.srv.Handle("transfer", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a TransferArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		got = append(got, a)
		if a.ID == "9" {
			return nil, errors.New("no call 9")
		}
		target := a.Target
		if a.To != "" {
			target = "sip:carol@example.com"
		}
		return phone.CallInfo{ID: a.ID, State: phone.CallHeld, Transfer: &phone.TransferInfo{Role: "transferor", Target: target, State: "trying", Attended: a.To != ""}}, nil
	})
	if code, out, errOut := runCLI(t, ts.path, "transfer", "1", "Front desk"); code != 0 || out != "transferring call 1 to Front desk (follow it with: trayphone events)\n" {
		t.Errorf("blind: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, ts.path, "transfer", "1", "--to", "2"); code != 0 || !strings.Contains(out, "to sip:carol@example.com") {
		t.Errorf("attended: exit %d, %q, %q", code, out, errOut)
	}
	code, out, _ := runCLI(t, ts.path, "transfer", "--json", "1", "--to", "2")
	var ci phone.CallInfo
	if err := json.Unmarshal([]byte(out), &ci); code != 0 || err != nil || ci.Transfer == nil || !ci.Transfer.Attended || ci.Transfer.State != "trying" {
		t.Errorf("--json: exit %d, %v, %s", code, err, out)
	}
	want := []TransferArgs{{ID: "1", Target: "Front desk"}, {ID: "1", To: "2"}, {ID: "1", To: "2"}}
	if len(got) != len(want) {
		t.Fatalf("the phone got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, args := range [][]string{{"transfer", "1"}, {"transfer", "1", "bob", "--to", "2"}, {"transfer"}} {
		if code, _, errOut := runCLI(t, ts.path, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, %q; want a usage error", args, code, errOut)
		}
	}
	if len(got) != 3 {
		t.Errorf("usage errors reached the phone: %+v", got[3:])
	}
	if code, _, errOut := runCLI(t, ts.path, "transfer", "9", "bob"); code != 1 || !strings.Contains(errOut, "no call 9") {
		t.Errorf("refused: exit %d, %q", code, errOut)
	}
}

// TestCLICallsTransfer: a call being transferred says where to and how it stands in `calls`;
// `calls --json` carries the transfer.
func TestCLICallsTransfer(t *testing.T) {
	ts := startServer(t)
	ts.core.mu.Lock()
	ts.core.status.Calls = []phone.CallInfo{
		{ID: "1", Direction: phone.Outgoing, Remote: "sip:bob@example.com", State: phone.CallHeld, LocalHold: true, Codec: "PCMU", Duration: 65,
			Transfer: &phone.TransferInfo{Role: "transferor", Target: "sip:carol@example.com", State: "ringing", Status: 180, Reason: "Ringing"}},
	}
	ts.core.mu.Unlock()
	want := `CALL  DIRECTION  REMOTE               STATE                                              CODEC  DURATION
1     outgoing   sip:bob@example.com  held (transfer to sip:carol@example.com: ringing)  PCMU   1m05s
`
	if code, out, errOut := runCLI(t, ts.path, "calls"); code != 0 || out != want {
		t.Errorf("calls: got %d, %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	_, out, _ := runCLI(t, ts.path, "calls", "--json")
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil || len(raw) != 1 {
		t.Fatalf("calls --json: %v in %s", err, out)
	}
	x, _ := raw[0]["transfer"].(map[string]any)
	if x["role"] != "transferor" || x["target"] != "sip:carol@example.com" || x["state"] != "ringing" || x["status"] != 180.0 {
		t.Errorf("calls --json: transfer %v", raw[0]["transfer"])
	}
}
