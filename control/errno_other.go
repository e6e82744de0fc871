//go:build !unix

package control

import "syscall"

const (
	syscallEADDRINUSE   = syscall.Errno(0x2740) // WSAEADDRINUSE
	syscallECONNREFUSED = syscall.Errno(0x274d) // WSAECONNREFUSED
	syscallENOENT       = syscall.ENOENT
)
