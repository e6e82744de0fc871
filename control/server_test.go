package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// checkGoroutines fails the test if goroutines started during it are still running at its end.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("got %d goroutines at the end, want at most %d:\n%s", n, before, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

type testServer struct {
	path string
	core *fakeCore
	srv  *Server
	stop func() // cancels Serve and waits for it
}

// startServer serves a fake core on a socket in a fresh directory. The server stops at cleanup.
func startServer(t *testing.T) *testServer {
	t.Helper()
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	core := newFakeCore()
	srv, err := NewServer(path, core, nil)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: got %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Serve did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return &testServer{path: path, core: core, srv: srv, stop: stop}
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSocketModes(t *testing.T) {
	ts := startServer(t)
	for p, want := range map[string]os.FileMode{ts.path: 0o600, filepath.Dir(ts.path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: got mode %v, want %v", p, got, want)
		}
	}
	if fi, _ := os.Lstat(ts.path); fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("%s: got mode %v, want a socket", ts.path, fi.Mode())
	}
	ts.stop()
	if _, err := os.Stat(ts.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Serve returned: got %v, want it removed", err)
	}
}

func TestClientRoundTrips(t *testing.T) {
	ts := startServer(t)
	c := dial(t, ts.path)
	ctx := context.Background()
	if got := c.ServerPID(); got != os.Getpid() {
		t.Errorf("hello pid: got %d, want %d", got, os.Getpid())
	}

	var call phone.CallInfo
	if err := c.Do(ctx, "call", CallArgs{Target: "bob", Account: "work"}, &call); err != nil {
		t.Fatal(err)
	}
	if call.ID != "c2" || call.State != phone.CallDialing {
		t.Errorf("call: got %+v, want id c2, dialing", call)
	}
	for _, cmd := range []string{"answer", "hangup", "hold", "resume"} {
		if err := c.Do(ctx, cmd, IDArgs{ID: "c1"}, nil); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	if err := c.Do(ctx, "mute", MuteArgs{ID: "c1", On: true}, nil); err != nil {
		t.Error(err)
	}
	on := true
	if err := c.Do(ctx, "dnd", DNDArgs{On: &on}, nil); err != nil {
		t.Error(err)
	}
	var st phone.Status
	if err := c.Do(ctx, "status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if !st.DND || len(st.Accounts) != 2 || len(st.Calls) != 1 {
		t.Errorf("status: got %+v", st)
	}
	var calls []phone.CallInfo
	if err := c.Do(ctx, "calls", nil, &calls); err != nil || len(calls) != 1 || calls[0].ID != "c1" {
		t.Errorf("calls: got %+v, %v", calls, err)
	}
	want := []string{"call bob work", "answer c1", "hangup c1", "hold c1", "resume c1", "mute c1 true", "dnd true"}
	if got := ts.core.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("core saw %q, want %q", got, want)
	}

	// Errors are plain words, and the connection stays usable after one.
	var re *RemoteError
	if err := c.Do(ctx, "answer", nil, nil); !errors.As(err, &re) || err.Error() != "no incoming call to answer" {
		t.Errorf("answer without id: got %v, want the core's error", err)
	}
	if err := c.Do(ctx, "frobnicate", nil, nil); err == nil || err.Error() != `unknown command "frobnicate"` {
		t.Errorf("unknown command: got %v", err)
	}
	if err := c.Do(ctx, "call", CallArgs{}, nil); err == nil || !strings.Contains(err.Error(), "call needs a target") {
		t.Errorf("call without target: got %v", err)
	}
	if err := c.Do(ctx, "dnd", struct{}{}, nil); err == nil || !strings.Contains(err.Error(), `dnd needs "on"`) {
		t.Errorf("dnd without on: got %v", err)
	}
	if err := c.Do(ctx, "mute", map[string]any{"on": "yes"}, nil); err == nil || !strings.Contains(err.Error(), `bad arguments for "mute"`) {
		t.Errorf("mute with bad args: got %v", err)
	}
	if err := c.Do(ctx, "hold", nil, nil); err != nil {
		t.Errorf("still usable after errors: %v", err)
	}
}

func TestHandleExtension(t *testing.T) {
	ts := startServer(t)
	ts.srv.Handle("dtmf", func(_ context.Context, args json.RawMessage) (any, error) {
		var a struct{ Digits string }
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		if a.Digits == "" {
			return nil, errors.New("dtmf needs digits")
		}
		return map[string]int{"sent": len(a.Digits)}, nil
	})
	c := dial(t, ts.path)
	var got map[string]int
	if err := c.Do(context.Background(), "dtmf", map[string]string{"digits": "123#"}, &got); err != nil || got["sent"] != 4 {
		t.Errorf("dtmf: got %v, %v; want sent 4", got, err)
	}
	if err := c.Do(context.Background(), "dtmf", map[string]string{}, nil); err == nil || err.Error() != "dtmf needs digits" {
		t.Errorf("dtmf without digits: got %v", err)
	}
}

// rawExchange sends lines on a raw connection and returns the response lines.
func rawExchange(t *testing.T, path string, lines ...string) []Response {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	var out []Response
	for _, l := range lines {
		if _, err := io.WriteString(conn, l+"\n"); err != nil {
			t.Fatal(err)
		}
		b, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reading answer to %s: %v", l, err)
		}
		var resp Response
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("answer %q: %v", b, err)
		}
		out = append(out, resp)
	}
	return out
}

func TestWireFormat(t *testing.T) {
	ts := startServer(t)
	got := rawExchange(t, ts.path,
		`{"v":1,"id":7,"cmd":"hello"}`,
		`{"v":2,"id":8,"cmd":"status"}`,
		`not json`,
		`{"v":1,"id":9}`,
		`{"v":1,"id":10,"cmd":"hangup","args":{"id":"c1"}}`,
	)
	if r := got[0]; r.V != 1 || r.ID != 7 || !r.OK || !strings.Contains(string(r.Result), `"version":1`) {
		t.Errorf("hello: got %+v", r)
	}
	if r := got[1]; r.V != 1 || r.ID != 8 || r.OK || !strings.Contains(r.Error, "protocol version 2 is not supported") {
		t.Errorf("v2 request: got %+v", r)
	}
	if r := got[2]; r.OK || r.Error != "bad request: not a JSON request object" {
		t.Errorf("not json: got %+v", r)
	}
	if r := got[3]; r.OK || r.ID != 9 || !strings.Contains(r.Error, "no command") {
		t.Errorf("no cmd: got %+v", r)
	}
	if r := got[4]; !r.OK || r.ID != 10 || string(r.Result) != "{}" {
		t.Errorf("hangup: got %+v, want ok with result {}", r)
	}
}

func TestClientVersionMismatch(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = bufio.NewReader(c).ReadBytes('\n')
		_, _ = io.WriteString(c, `{"v":2,"id":1,"ok":true,"result":{"version":2}}`+"\n")
	}()
	_, err = Dial(path)
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Server != 2 || ve.Client != 1 {
		t.Fatalf("got %v, want a VersionError 2/1", err)
	}
	if !strings.Contains(err.Error(), "version 2 but this command speaks version 1") {
		t.Errorf("message: got %q", err)
	}
}

// Not parallel: a concurrent fork (exec in another test) can briefly hold a closed listener's fd.
func TestNotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	_, err := Dial(path)
	want := fmt.Sprintf(`trayphone is not running (no control socket at %s); start it with "trayphone" or "trayphone --headless"`, path)
	if err == nil || err.Error() != want || !errors.Is(err, ErrNotRunning) {
		t.Errorf("got %v, want %q", err, want)
	}
	// A stale socket file with nobody listening is "not running" too.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Dial(path); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: got %v, want ErrNotRunning", err)
	}
}

func TestSecondServerRefused(t *testing.T) {
	ts := startServer(t)
	_, err := NewServer(ts.path, newFakeCore(), nil)
	want := fmt.Sprintf("trayphone is already running (pid %d)", os.Getpid())
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	// The first server is untouched.
	c := dial(t, ts.path)
	if err := c.Do(context.Background(), "status", nil, nil); err != nil {
		t.Errorf("first server after refused second: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	checkGoroutines(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "control.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv, err := NewServer(path, newFakeCore(), nil)
	if err != nil {
		t.Fatalf("stale socket: got %v, want it replaced", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx) }()
	c := dial(t, path)
	if err := c.Do(ctx, "status", nil, nil); err != nil {
		t.Error(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestNotASocketRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "control.sock")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(path, newFakeCore(), nil); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("got %v, want a not-a-socket error", err)
	}
}

func TestOpenDirRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(filepath.Join(dir, "control.sock"), newFakeCore(), nil); err == nil || !strings.Contains(err.Error(), "accessible by other users") {
		t.Errorf("got %v, want a not-private error", err)
	}
}

func TestServeStopsWithOpenConnections(t *testing.T) {
	ts := startServer(t)
	idle, err := net.Dial("unix", ts.path) // never sends anything
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	c := dial(t, ts.path)
	evDone := make(chan error, 1)
	go func() { evDone <- c.Events(context.Background(), func(phone.Event) error { return nil }) }()
	waitFor(t, "an events subscriber", func() bool { return ts.core.subscribers() == 1 })
	ts.stop()
	select {
	case err := <-evDone:
		if err == nil {
			t.Error("Events after server stop: got nil, want a lost-connection error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events did not return after the server stopped")
	}
	if n := ts.core.subscribers(); n != 0 {
		t.Errorf("got %d subscriptions after stop, want 0", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEvents(t *testing.T) {
	ts := startServer(t)
	c := dial(t, ts.path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan phone.Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, func(ev phone.Event) error { got <- ev; return nil })
	}()
	first := <-got
	if first.Type != phone.EventStatus || first.Status == nil || len(first.Status.Calls) != 1 {
		t.Errorf("first event: got %+v, want a status snapshot", first)
	}
	waitFor(t, "subscription", func() bool { return ts.core.subscribers() == 1 })
	call := phone.CallInfo{ID: "c9", State: phone.CallIncoming, Direction: phone.Incoming}
	if err := ts.core.publish(phone.Event{Type: phone.EventCall, Call: &call}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if ev := <-got; ev.Type != phone.EventCall || ev.Call == nil || ev.Call.ID != "c9" || ev.Call.State != phone.CallIncoming {
		t.Errorf("second event: got %+v", ev)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Events after cancel: got %v, want context.Canceled", err)
	}
	waitFor(t, "unsubscribe after the client left", func() bool { return ts.core.subscribers() == 0 })
}

func TestSlowEventsClientDoesNotBlockCore(t *testing.T) {
	ts := startServer(t)
	conn, err := net.Dial("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, `{"v":1,"id":1,"cmd":"events"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscription", func() bool { return ts.core.subscribers() == 1 })
	// The client reads nothing. Each event is big enough that the socket buffers fill quickly.
	big := strings.Repeat("x", 4096)
	start := time.Now()
	const n = 3000
	for i := range n {
		ev := phone.Event{Type: phone.EventWarning, Message: fmt.Sprintf("%d %s", i, big)}
		if err := ts.core.publish(ev, 2*time.Second); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("publishing %d events to a stalled client took %v", n, d)
	}
	// When the client finally reads, it gets the latest event, having lost older ones.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReaderSize(conn, 1<<16)
	var last phone.Event
	seen := 0
	for !strings.HasPrefix(last.Message, fmt.Sprint(n-1)+" ") {
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("after %d lines: %v", seen, err)
		}
		seen++
		if seen == 1 {
			continue // the ok response
		}
		if err := json.Unmarshal(line, &last); err != nil {
			t.Fatal(err)
		}
	}
	if seen >= n {
		t.Errorf("got %d lines, want fewer than %d (old events dropped)", seen, n)
	}
}

func TestEventQueueDropsOldest(t *testing.T) {
	t.Parallel()
	q := newEventQueue(3)
	for i := range 5 {
		q.push(phone.Event{Digit: fmt.Sprint(i)})
	}
	var got []string
	for range 3 {
		ev, ok := q.pop()
		if !ok {
			t.Fatal("pop: got closed")
		}
		got = append(got, ev.Digit)
	}
	if want := []string{"2", "3", "4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if q.dropped != 2 {
		t.Errorf("dropped: got %d, want 2", q.dropped)
	}
	q.close()
	if _, ok := q.pop(); ok {
		t.Error("pop after close: got an event, want none")
	}
}

// TestEventsOutliveTheWriteTimeout: an event stream goes on delivering events after the write
// timeout of the answer that opened it (a long-running "trayphone events" under a voice app).
func TestEventsOutliveTheWriteTimeout(t *testing.T) {
	ts := startServer(t)
	c := dial(t, ts.path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan phone.Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, func(ev phone.Event) error { got <- ev; return nil })
	}()
	<-got // the status snapshot
	waitFor(t, "subscription", func() bool { return ts.core.subscribers() == 1 })
	time.Sleep(writeTimeout + time.Second)
	call := phone.CallInfo{ID: "c9", State: phone.CallIncoming, Direction: phone.Incoming}
	if err := ts.core.publish(phone.Event{Type: phone.EventCall, Call: &call}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Call == nil || ev.Call.ID != "c9" {
			t.Errorf("got %+v, want call c9's event", ev)
		}
	case err := <-done:
		t.Fatalf("the event stream ended %s after it began: %v", writeTimeout+time.Second, err)
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	cancel()
	<-done
}
