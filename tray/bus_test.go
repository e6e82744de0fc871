package tray

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"trayphone/internal/phone"
	"trayphone/internal/testenv"
)

// startBus starts a private session dbus-daemon for t and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	daemon := testenv.RequireProgram(t, "dbus-daemon")
	dir := t.TempDir()
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--print-address=1",
		"--address=unix:path="+filepath.Join(dir, "bus"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	return ""
}

// connect opens a connection to the bus at addr, closed when t ends.
func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// recorder is a Controller that records the commands it gets as "verb arg..." lines.
type recorder struct {
	got    chan string
	status phone.Status
	favs   []Favorite
	recent []phone.CallInfo
	events chan phone.Event
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
func (r *recorder) Mute(_ context.Context, id string, on bool) error {
	if on {
		return r.rec("mute " + id)
	}
	return r.rec("unmute " + id)
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
func (r *recorder) Status() phone.Status                    { return r.status }
func (r *recorder) Favorites() []Favorite                   { return r.favs }
func (r *recorder) Recent() []phone.CallInfo                { return r.recent }
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
