package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePhone makes superviseCommand run a shell script that counts its runs in a file and exits
// with the code codes[run] (the last code for later runs).
func fakePhone(t *testing.T, codes ...int) (runs func() int) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	count := filepath.Join(t.TempDir(), "runs")
	var script strings.Builder
	fmt.Fprintf(&script, "n=$(cat %q 2>/dev/null || echo 0); n=$((n+1)); echo $n > %q\n", count, count)
	for i, c := range codes {
		fmt.Fprintf(&script, "[ $n -le %d ] && exit %d\n", i+1, c)
	}
	fmt.Fprintf(&script, "exit %d\n", codes[len(codes)-1])
	oldCmd, oldSleep := superviseCommand, superviseSleep
	superviseCommand = func([]string) (*exec.Cmd, error) { return exec.Command("sh", "-c", script.String()), nil }
	superviseSleep = func(time.Duration) {}
	t.Cleanup(func() { superviseCommand, superviseSleep = oldCmd, oldSleep })
	return func() int {
		b, _ := os.ReadFile(count)
		var n int
		fmt.Sscan(string(b), &n)
		return n
	}
}

// TestSuperviseRestartsAfterFailure: the autostart entries' restart policy starts a crashed
// phone again and stops when it quits cleanly.
func TestSuperviseRestartsAfterFailure(t *testing.T) {
	runs := fakePhone(t, 2, 139, 0)
	var errOut bytes.Buffer
	if code := supervise(nil, &errOut); code != 0 {
		t.Errorf("exit code %d, want 0 after the clean exit", code)
	}
	if got := runs(); got != 3 {
		t.Errorf("the phone ran %d times, want 3 (two failures restarted)", got)
	}
	if !strings.Contains(errOut.String(), "restarting it") {
		t.Errorf("no restart message: %q", errOut.String())
	}
}

// TestSuperviseGivesUp: a phone that keeps failing (a broken config) is not restarted forever.
func TestSuperviseGivesUp(t *testing.T) {
	runs := fakePhone(t, 2)
	var errOut bytes.Buffer
	if code := supervise(nil, &errOut); code != 2 {
		t.Errorf("exit code %d, want the phone's 2", code)
	}
	if got := runs(); got != superviseMaxFailures {
		t.Errorf("the phone ran %d times, want %d", got, superviseMaxFailures)
	}
}

// TestSuperviseCleanExit: Quit ends the phone with 0: no restart.
func TestSuperviseCleanExit(t *testing.T) {
	runs := fakePhone(t, 0)
	if code := supervise(nil, &bytes.Buffer{}); code != 0 || runs() != 1 {
		t.Errorf("code %d after %d runs, want 0 after 1", code, runs())
	}
}
