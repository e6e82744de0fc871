package control

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

type fakeDTMF struct {
	mu  sync.Mutex
	got []string
}

func (f *fakeDTMF) SendDTMF(_ context.Context, id, digits string) error {
	if strings.Contains(digits, "x") {
		return errors.New(`"x" is not a DTMF key (use 0-9, *, #, A-D)`)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, id+" "+digits)
	return nil
}

func TestCLIDTMF(t *testing.T) {
	ts := startServer(t)
	d := &fakeDTMF{}
	HandleDTMF(ts.srv, d)
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"dtmf", "1234#"}, 0, "sent 1234#\n", ""},
		{[]string{"dtmf", "c1", "*0"}, 0, "sent *0\n", ""},
		{[]string{"dtmf", "12x"}, 1, "", "x\" is not a DTMF key"},
		{[]string{"dtmf"}, 2, "", "usage: trayphone dtmf [ID] DIGITS"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, ts.path, tt.args...)
		if code != tt.code || out != tt.out || !strings.Contains(errOut, tt.err) {
			t.Errorf("%v: got %d %q %q, want %d %q and stderr with %q", tt.args, code, out, errOut, tt.code, tt.out, tt.err)
		}
	}
	if got := strings.Join(d.got, ","); got != " 1234#,c1 *0" {
		t.Errorf("sent: got %q", got)
	}
}
