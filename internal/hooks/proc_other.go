//go:build !unix

package hooks

import "os/exec"

// ownGroup kills only the hook's own process at its time limit where there are no process
// groups (Windows): children it started may outlive it. Its output pipes are let go after
// killGrace all the same.
func ownGroup(cmd *exec.Cmd) {}
