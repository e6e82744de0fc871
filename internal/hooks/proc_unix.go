//go:build unix

package hooks

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the hook in a process group of its own, and makes its time limit kill that whole
// group: a hook that started children (a shell script) leaves none behind.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
