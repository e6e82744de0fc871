//go:build linux

package media

import (
	"bytes"
	"os"
)

// virtualMachine reports whether this computer is a virtual machine by its CPU's flags
// (virtualMachineIn), or, where the CPU does not say (ARM), by the hypervisor type Xen and
// others publish in /sys/hypervisor.
func virtualMachine() bool {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && virtualMachineIn(b) {
		return true
	}
	b, err := os.ReadFile("/sys/hypervisor/type")
	return err == nil && len(bytes.TrimSpace(b)) > 0
}
