package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
func supervise(args []string, stderr io.Writer) int {
	var failures []time.Time
	pause := superviseFirstPause
	for {
		cmd, err := superviseCommand(args)
		if err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, stderr
		err = cmd.Run()
		if err == nil {
			return 0
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
