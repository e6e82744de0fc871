//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSuperviseForwardsStop: SIGTERM (the session ending) reaches the phone, and the supervisor
// ends with it instead of restarting it.
func TestSuperviseForwardsStop(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	oldCmd, oldSleep := superviseCommand, superviseSleep
	runs := 0
	superviseCommand = func([]string) (*exec.Cmd, error) {
		runs++
		return exec.Command("sh", "-c", fmt.Sprintf(`trap 'exit 3' TERM; touch %q; while :; do sleep 0.05; done`, started)), nil
	}
	superviseSleep = func(time.Duration) {}
	t.Cleanup(func() { superviseCommand, superviseSleep = oldCmd, oldSleep })
	done := make(chan int, 1)
	go func() { done <- supervise(nil, &bytes.Buffer{}) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the phone did not start")
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if runs != 1 {
			t.Errorf("the phone ran %d times, want 1 (no restart after SIGTERM)", runs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the supervisor did not end 5 s after SIGTERM")
	}
}
