//go:build unix

package control

import "syscall"

const (
	syscallEADDRINUSE   = syscall.EADDRINUSE
	syscallECONNREFUSED = syscall.ECONNREFUSED
	syscallENOENT       = syscall.ENOENT
)
