//go:build linux

package rt

import (
	"bytes"
	"os"
	"slices"
)

// VirtualMachine reports whether this computer is a virtual machine by its CPU's flags
// (virtualMachineIn), or, where the CPU does not say (ARM), by the hypervisor type Xen and
// others publish in /sys/hypervisor.
func VirtualMachine() bool {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && virtualMachineIn(b) {
		return true
	}
	b, err := os.ReadFile("/sys/hypervisor/type")
	return err == nil && len(bytes.TrimSpace(b)) > 0
}

// virtualMachineIn reports whether /proc/cpuinfo's text says the CPU runs under a hypervisor: the
// "hypervisor" flag, which x86 hypervisors (KVM, Hyper-V and so WSL 2, VMware, VirtualBox, Xen
// HVM) set in CPUID and Linux lists among each processor's flags.
func virtualMachineIn(cpuinfo []byte) bool {
	for line := range bytes.Lines(cpuinfo) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(bytes.TrimSpace(name)) != "flags" {
			continue
		}
		return slices.ContainsFunc(bytes.Fields(value), func(f []byte) bool { return string(f) == "hypervisor" })
	}
	return false
}
