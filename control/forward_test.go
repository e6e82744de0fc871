package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"trayphone/internal/phone"
)

// TestCLIForward: each form of `forward` sends the change it names and prints what is in force;
// a malformed one is a usage error that says what to write.
func TestCLIForward(t *testing.T) {
	ts := startServer(t)
	var got []*phone.Forward
	cur := phone.Forward{Mode: phone.ForwardOff}
	ts.srv.Handle("forward", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a ForwardArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		got = append(got, a.Set)
		if a.Set != nil {
			cur = *a.Set
		}
		return cur, nil
	})
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"forward"}, "forwarding: off\n"},
		{[]string{"forward", "always", "sip:desk@example.org"}, "forwarding: always to sip:desk@example.org\n"},
		{[]string{"forward", "busy", "desk"}, "forwarding: when busy to desk\n"},
		{[]string{"forward", "noanswer", "20", "sip:vm@example.org"}, "forwarding: after 20 s unanswered to sip:vm@example.org\n"},
		{[]string{"forward", "off"}, "forwarding: off\n"},
	} {
		if code, out, errOut := runCLI(t, ts.path, tc.args...); code != 0 || out != tc.out {
			t.Errorf("%v: %d %q %q, want %q", tc.args, code, out, errOut, tc.out)
		}
	}
	if len(got) != 5 || got[0] != nil || got[3].After != 20 || got[3].Mode != phone.ForwardNoAnswer {
		t.Errorf("the phone was asked %+v", got)
	}
	for _, bad := range [][]string{{"forward", "always"}, {"forward", "noanswer", "soon", "sip:x@y"}, {"forward", "sometimes", "x"}} {
		if code, _, errOut := runCLI(t, ts.path, bad...); code != 2 || !strings.Contains(errOut, "forward") {
			t.Errorf("%v: exit %d %q, want 2 and what to write", bad, code, errOut)
		}
	}
}
