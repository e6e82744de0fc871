//go:build !unix

package pgroup

import "os/exec"

// Set does nothing: there are no process groups to lead here.
func Set(cmd *exec.Cmd) {}

// Kill kills the process cmd started.
func Kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }
