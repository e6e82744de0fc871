package control

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestCLIConference(t *testing.T) {
	ts := startServer(t)
	var got []string
	ts.srv.Handle("conference", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a ConferenceArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		got = a.IDs
		return nil, nil
	})
	code, out, errOut := runCLI(t, ts.path, "conference", "1", "3")
	if code != 0 || out != "conference of calls 1, 3\n" || errOut != "" {
		t.Errorf("got %d, %q, %q; want 0 and the calls", code, out, errOut)
	}
	if !reflect.DeepEqual(got, []string{"1", "3"}) {
		t.Errorf("server got %v, want [1 3]", got)
	}
	code, _, errOut = runCLI(t, ts.path, "conference", "1")
	if code != 2 || !strings.Contains(errOut, "conference") {
		t.Errorf("one call: got %d, %q; want a usage error", code, errOut)
	}
}
