package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// The restart policy of the autostart entries: "trayphone --supervise ARGS" runs "trayphone
// ARGS" and starts it again when it ends in failure (a crash, a non-zero exit), as systemd's
// Restart=on-failure does, on every system (an XDG autostart entry and the Windows Run key have
// no restart policy of their own; macOS's LaunchAgent also says KeepAlive). A clean exit (Quit)
// ends the supervisor too.
const (
	// superviseMaxFailures within superviseWindow make the supervisor give up: a phone that
	// cannot start (a broken config) is not restarted forever.
	superviseMaxFailures = 5
	superviseWindow      = 10 * time.Minute
	// superviseFirstPause is the pause before the first restart; it doubles up to a minute.
	superviseFirstPause = 2 * time.Second
	// superviseStopGrace is how long a phone that could not be signalled (Windows) has to shut
	// down on its own before the supervisor ends it; the phone's own shutdown is bounded well
	// below it.
	superviseStopGrace = 10 * time.Second
)

// superviseCommand builds the child; tests replace it.
var superviseCommand = func(args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.Command(exe, args...), nil
}

// superviseSleep pauses between restarts; tests replace it.
var superviseSleep = time.Sleep

// supervise runs the phone with args until it exits cleanly, restarting it after failures. It
// returns the exit code of the last run. Its loop ends on a clean exit, or after
// superviseMaxFailures failures within superviseWindow.
//
// SIGINT and SIGTERM (the session ending) are passed on to the phone, which then shuts down
// properly (un-REGISTER, BYE); the supervisor ends with it and does not restart it.
func supervise(args []string, stderr io.Writer) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var stopping atomic.Bool
	var failures []time.Time
	pause := superviseFirstPause
	for {
		cmd, err := superviseCommand(args)
		if err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		exited := make(chan struct{})
		go func() { // passes signals on until the phone exits
			for {
				select {
				case s := <-sigs:
					stopping.Store(true)
					if err := cmd.Process.Signal(s); err != nil {
						// Windows cannot signal another process, but a console's Ctrl-C or
						// close reaches every process on it, the phone too: give it the time
						// to shut down properly before ending it.
						go func() {
							select {
							case <-exited:
							case <-time.After(superviseStopGrace):
								_ = cmd.Process.Kill()
							}
						}()
					}
				case <-exited:
					return
				}
			}
		}()
		err = cmd.Wait()
		close(exited)
		if err == nil {
			return 0
		}
		if stopping.Load() {
			return 1
		}
		code := 1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			code = ee.ExitCode()
		}
		now := time.Now()
		failures = append(failures, now)
		for len(failures) > 0 && now.Sub(failures[0]) > superviseWindow {
			failures = failures[1:]
		}
		if len(failures) >= superviseMaxFailures {
			fmt.Fprintf(stderr, "trayphone: the phone failed %d times within %s (%v); not restarting it\n", len(failures), superviseWindow, err)
			return code
		}
		fmt.Fprintf(stderr, "trayphone: the phone ended with an error (%v); restarting it in %s\n", err, pause)
		superviseSleep(pause)
		pause = min(2*pause, time.Minute)
	}
}
