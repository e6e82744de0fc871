//go:build !linux

package media

// virtualMachine is not asked where steady send does not exist.
func virtualMachine() bool { return false }
