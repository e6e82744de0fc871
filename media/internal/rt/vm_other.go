//go:build !linux

package rt

// VirtualMachine is not asked where steady send does not exist.
func VirtualMachine() bool { return false }
