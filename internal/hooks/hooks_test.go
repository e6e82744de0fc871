//go:build unix

package hooks

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) lines(substr string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve runs r on a stream the test feeds; the returned stop ends Serve and waits for it.
func serve(t *testing.T, r *Runner) (chan<- phone.Event, func()) {
	t.Helper()
	events := make(chan phone.Event, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx, events); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return within 10 s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return events, stop
}

func waitFile(t *testing.T, path string, timeout time.Duration) []byte {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && strings.HasSuffix(string(b), "END\n") {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written within %s", path, timeout)
		}
	}
}

func callEvent(c phone.CallInfo) phone.Event {
	return phone.Event{Type: phone.EventCall, Time: time.Now(), Call: &c}
}

// TestHookEnvironment: a ringing, answered and ended call runs incoming, answered and ended once
// each (whatever the number of snapshots), with the call in the environment; a display name
// full of shell syntax reaches the hook as the exact text and runs nothing.
func TestHookEnvironment(t *testing.T) {
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	name := `Eve $(touch ` + pwned + `) "quoted" 'single' ` + "`touch " + pwned + "`; touch " + pwned
	// The documented pattern: a shell that expands the variables in double quotes, as data.
	hook := script(t, dir, "hook.sh", `out="`+dir+`/$TRAYPHONE_EVENT.env"
{ printf 'event=%s\nid=%s\nremote=%s\nname=%s\ndirection=%s\nresult=%s\n' "$TRAYPHONE_EVENT" "$TRAYPHONE_CALL_ID" "$TRAYPHONE_REMOTE" "$TRAYPHONE_NAME" "$TRAYPHONE_DIRECTION" "$TRAYPHONE_RESULT"; echo END; } > "$out.tmp" && mv "$out.tmp" "$out"`)
	log := &logBuf{}
	t.Setenv("TRAYPHONE_NAME", "from the phone's own environment") // replaced, not passed on
	r := New(Config{Commands: map[string][]string{Incoming: {hook}, Answered: {hook}, Ended: {hook}, Missed: {hook, "unused-argument"}}},
		slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	events, stop := serve(t, r)
	c := phone.CallInfo{ID: "7", Direction: phone.Incoming, Remote: "sip:eve@example.org", RemoteName: name, State: phone.CallIncoming}
	events <- callEvent(c)
	events <- callEvent(c) // a second snapshot of the same ringing call
	got := waitFile(t, filepath.Join(dir, "incoming.env"), 5*time.Second)
	want := "event=incoming\nid=7\nremote=sip:eve@example.org\nname=" + name + "\ndirection=incoming\nresult=\nEND\n"
	if string(got) != want {
		t.Errorf("incoming hook saw\n%s\nwant\n%s", got, want)
	}
	c.State = phone.CallActive
	events <- callEvent(c)
	events <- callEvent(c)
	waitFile(t, filepath.Join(dir, "answered.env"), 5*time.Second)
	c.State, c.Result, c.Duration = phone.CallEnded, phone.ResultAnswered, 42
	events <- callEvent(c)
	got = waitFile(t, filepath.Join(dir, "ended.env"), 5*time.Second)
	if !strings.Contains(string(got), "event=ended\n") || !strings.Contains(string(got), "result=answered\n") {
		t.Errorf("ended hook saw\n%s", got)
	}
	stop()
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the display name ran a command: %s exists", pwned)
	}
	if _, err := os.Stat(filepath.Join(dir, "missed.env")); err == nil {
		t.Error("the missed hook ran for an answered call")
	}
	if n := len(log.lines("hook ran")); n != 3 {
		t.Errorf("%d hook runs logged, want 3 (one per event, not per snapshot):\n%s", n, log)
	}
}

// TestHookMissed: an incoming call that ends unanswered runs missed, not ended; so does one
// that ends without our having seen it answered, with no result given.
func TestHookMissed(t *testing.T) {
	tr := newTracker()
	c := phone.CallInfo{ID: "1", Direction: phone.Incoming, State: phone.CallIncoming}
	if got := tr.hooksFor(callEvent(c)); len(got) != 1 || got[0].event != Incoming {
		t.Fatalf("ringing: %+v", got)
	}
	c.State, c.Result = phone.CallEnded, phone.ResultMissed
	if got := tr.hooksFor(callEvent(c)); len(got) != 1 || got[0].event != Missed {
		t.Errorf("ended unanswered: %+v, want missed", got)
	}
	vm := phone.CallInfo{ID: "3", Direction: phone.Incoming, State: phone.CallIncoming}
	tr.hooksFor(callEvent(vm))
	vm.State, vm.Voicemail = phone.CallActive, true
	if got := tr.hooksFor(callEvent(vm)); len(got) != 0 {
		t.Errorf("taken by the answering machine: %+v, want no answered hook", got)
	}
	vm.State, vm.Result = phone.CallEnded, phone.ResultVoicemail
	if got := tr.hooksFor(callEvent(vm)); len(got) != 1 || got[0].event != Ended || got[0].call.Result != phone.ResultVoicemail {
		t.Errorf("voicemail call ended: %+v, want ended with result voicemail", got)
	}
	out := phone.CallInfo{ID: "2", Direction: phone.Outgoing, State: phone.CallDialing}
	tr.hooksFor(callEvent(out))
	out.State, out.Result = phone.CallEnded, phone.ResultBusy
	if got := tr.hooksFor(callEvent(out)); len(got) != 1 || got[0].event != Ended || got[0].call.Result != phone.ResultBusy {
		t.Errorf("outgoing busy: %+v, want ended with result busy", got)
	}
	msg := phone.Event{Type: phone.EventVoicemail, Voicemail: &phone.VoicemailMessage{ID: "m1", From: "sip:eve@example.org", Name: "Eve", File: "/state/messages/1.wav"}}
	got := tr.hooksFor(msg)
	if len(got) != 1 || got[0].event != Message || got[0].file != msg.Voicemail.File || got[0].call.Remote != "sip:eve@example.org" || got[0].call.RemoteName != "Eve" {
		t.Fatalf("message: %+v", got)
	}
	env := strings.Join(Env(Message, got[0].call, got[0].file), "\n")
	for _, want := range []string{"TRAYPHONE_FILE=/state/messages/1.wav", "TRAYPHONE_REMOTE=sip:eve@example.org", "TRAYPHONE_NAME=Eve", "TRAYPHONE_EVENT=message"} {
		if !strings.Contains(env, want) {
			t.Errorf("message env lacks %s", want)
		}
	}
}

// alive reports whether process pid runs: it exists and is not a zombie (killed, waiting for
// whoever adopted it to reap it).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestHookHangsKilled: a hook that hangs, with a child of its own, is killed with its child at
// the time limit; the log says so; Fire never waited for it.
func TestHookHangsKilled(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	hook := script(t, dir, "hang.sh", `sleep 300 & echo $! > "`+pidFile+`.tmp"; mv "`+pidFile+`.tmp" "`+pidFile+`"; echo waiting forever; wait`)
	log := &logBuf{}
	r := New(Config{Commands: map[string][]string{Incoming: {hook}}, Timeout: time.Second}, slog.New(slog.NewTextHandler(log, nil)))
	events, _ := serve(t, r)
	start := time.Now()
	events <- callEvent(phone.CallInfo{ID: "1", Direction: phone.Incoming, State: phone.CallIncoming})
	var pid int
	for deadline := time.Now().Add(5 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			t.Fatal("the hook did not start its child")
		}
	}
	for deadline := time.Now().Add(5 * time.Second); len(log.lines("hook failed")) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged within 5 s:\n%s", log)
		}
	}
	took := time.Since(start)
	line := log.lines("hook failed")[0]
	t.Logf("after %s: %s", took.Round(time.Millisecond), line)
	if took < time.Second || took > 3*time.Second {
		t.Errorf("the hook was stopped after %s, want at its 1 s limit", took)
	}
	if !strings.Contains(line, "killed after 1s") || !strings.Contains(line, "waiting forever") {
		t.Errorf("log line %q: want the limit and the hook's output", line)
	}
	time.Sleep(100 * time.Millisecond)
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the hook's child %d outlived the time limit", pid)
	}
}

// TestHookFloodsOutput: a hook printing 64 MB costs no memory: only the last few KB are kept,
// for the log line.
func TestHookFloodsOutput(t *testing.T) {
	dir := t.TempDir()
	hook := script(t, dir, "flood.sh", `head -c 67108864 /dev/zero | tr '\0' 'x'; echo; echo the last line; exit 3`)
	log := &logBuf{}
	r := New(Config{Commands: map[string][]string{Answered: {hook}}}, slog.New(slog.NewTextHandler(log, nil)))
	events, _ := serve(t, r)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	events <- callEvent(phone.CallInfo{ID: "1", Direction: phone.Outgoing, State: phone.CallActive})
	for deadline := time.Now().Add(30 * time.Second); len(log.lines("hook failed")) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged within 30 s:\n%.2000s", log)
		}
	}
	runtime.ReadMemStats(&after)
	line := log.lines("hook failed")[0]
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while the hook printed 64 MiB; log line of %d bytes", alloc>>10, len(line))
	if alloc > 4<<20 {
		t.Errorf("allocated %d KiB for a hook's 64 MiB of output, want under 4 MiB", alloc>>10)
	}
	if len(line) > 2*OutputTail+1000 || !strings.Contains(line, "the last line") || !strings.Contains(line, "exit status 3") || !strings.Contains(line, "bytes before this cut") {
		t.Errorf("log line (%d bytes) %.300q...: want the exit status and the last KB of output, said to be cut", len(line), line)
	}
}

// TestHookMissingBinary: a hook whose program does not exist is logged once per burst of
// failures with what is wrong, other hooks still run, and it is said when it works again.
func TestHookMissingBinary(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-hook")
	okHook := script(t, dir, "ok.sh", `echo END >> "`+dir+`/answered.count"`)
	log := &logBuf{}
	r := New(Config{Commands: map[string][]string{Incoming: {missing}, Answered: {okHook}}}, slog.New(slog.NewTextHandler(log, nil)))
	events, _ := serve(t, r)
	for i := range 5 {
		id := strconv.Itoa(i + 1)
		events <- callEvent(phone.CallInfo{ID: id, Direction: phone.Incoming, State: phone.CallIncoming})
		events <- callEvent(phone.CallInfo{ID: id, Direction: phone.Incoming, State: phone.CallActive})
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(dir, "answered.count"))
		if strings.Count(string(b), "END") == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the answered hook ran %d times, want 5:\n%s", strings.Count(string(b), "END"), log)
		}
	}
	time.Sleep(300 * time.Millisecond)
	failed := log.lines("hook failed")
	if len(failed) != 1 || !strings.Contains(failed[0], "cannot run") || !strings.Contains(failed[0], "no-such-hook") {
		t.Fatalf("failure lines %q, want one saying the program cannot run", failed)
	}
	t.Logf("%s", failed[0])
	// The program appears: the next run works, and the log says how many failures it kept quiet.
	script(t, dir, "no-such-hook", "exit 0")
	events <- callEvent(phone.CallInfo{ID: "9", Direction: phone.Incoming, State: phone.CallIncoming})
	for deadline := time.Now().Add(5 * time.Second); len(log.lines("hook works again")) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no 'works again' line:\n%s", log)
		}
	}
	if l := log.lines("hook works again")[0]; !strings.Contains(l, "failures_not_logged=4") {
		t.Errorf("%q: want the 4 failures that were not logged counted", l)
	}
}

// TestHooksNeverBlock: with every slot taken by hanging hooks, a burst of events is taken at
// once; what does not fit is dropped with one log line, and at most MaxRunning run at a time.
func TestHooksNeverBlock(t *testing.T) {
	dir := t.TempDir()
	hook := script(t, dir, "slow.sh", `echo x >> "`+dir+`/started"; sleep 2`)
	log := &logBuf{}
	r := New(Config{Commands: map[string][]string{Incoming: {hook}}, Timeout: 5 * time.Second}, slog.New(slog.NewTextHandler(log, nil)))
	start := time.Now()
	for i := range 100 {
		r.Fire(Incoming, phone.CallInfo{ID: strconv.Itoa(i)}, "")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("100 hook events took %s to hand over, want no waiting", d)
	}
	_, stop := serve(t, r)
	time.Sleep(time.Second)
	b, _ := os.ReadFile(filepath.Join(dir, "started"))
	if n := strings.Count(string(b), "x"); n != MaxRunning {
		t.Errorf("%d hooks running at once, want %d", n, MaxRunning)
	}
	if n := len(log.lines("too many hooks at once")); n != 1 {
		t.Errorf("%d lines about dropped hooks, want 1:\n%s", n, log)
	}
	stop() // kills the running ones
}
