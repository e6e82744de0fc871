package tray

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// recorder is a Controller that records the commands it gets as "verb arg..." lines.
type recorder struct {
	got    chan string
	status phone.Status
	favs   []Favorite
	recent []phone.HistoryEntry
	events chan phone.Event
	// alt, when set, is what every other Status call returns (the tray's icon changes each time).
	alt   *phone.Status
	flips atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{got: make(chan string, 100), events: make(chan phone.Event, 10)}
}

func (r *recorder) rec(s string) error { r.got <- s; return nil }

func (r *recorder) Call(_ context.Context, target string) error { return r.rec("call " + target) }
func (r *recorder) Answer(_ context.Context, id string) error   { return r.rec("answer " + id) }
func (r *recorder) Hangup(_ context.Context, id string) error   { return r.rec("hangup " + id) }
func (r *recorder) Hold(_ context.Context, id string) error     { return r.rec("hold " + id) }
func (r *recorder) Resume(_ context.Context, id string) error   { return r.rec("resume " + id) }
func (r *recorder) Transfer(_ context.Context, id, target, consult string) error {
	if consult != "" {
		return r.rec("transfer " + id + " --to " + consult)
	}
	return r.rec("transfer " + id + " " + target)
}
func (r *recorder) Mute(_ context.Context, id string, on bool) error {
	if on {
		return r.rec("mute " + id)
	}
	return r.rec("unmute " + id)
}
func (r *recorder) Record(_ context.Context, id string, on bool) error {
	if on {
		return r.rec("record " + id + " on")
	}
	return r.rec("record " + id + " off")
}
func (r *recorder) SetForward(_ context.Context, f phone.Forward) error {
	return r.rec("forward " + f.String())
}
func (r *recorder) SendDTMF(_ context.Context, id, d string) error {
	return r.rec("dtmf " + id + " " + d)
}
func (r *recorder) SetDND(_ context.Context, on bool) error {
	if on {
		return r.rec("dnd on")
	}
	return r.rec("dnd off")
}
func (r *recorder) Status() phone.Status {
	if r.alt != nil && r.flips.Add(1)%2 == 0 {
		return *r.alt
	}
	return r.status
}
func (r *recorder) Favorites() []Favorite                   { return r.favs }
func (r *recorder) Recent() []phone.HistoryEntry            { return r.recent }
func (r *recorder) MarkMissedSeen()                         { _ = r.rec("seen") }
func (r *recorder) Subscribe() (<-chan phone.Event, func()) { return r.events, func() {} }

// expect waits for the next recorded command and compares it with want.
func expect(t *testing.T, got <-chan string, want string) {
	t.Helper()
	select {
	case g := <-got:
		if g != want {
			t.Fatalf("controller got %q, want %q", g, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("controller got nothing, want %q", want)
	}
}
