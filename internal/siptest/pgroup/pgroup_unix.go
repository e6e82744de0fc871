//go:build unix

// Package pgroup starts a test peer in its own process group and kills the whole group, so that
// a peer's children (baresip's, `ip netns exec`'s) go with it. Elsewhere than Unix it starts the
// process plainly and kills the process alone.
package pgroup

import (
	"os/exec"
	"syscall"
)

// Set makes cmd, when started, lead a new process group.
func Set(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// Kill sends SIGKILL to the process group cmd leads.
func Kill(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
