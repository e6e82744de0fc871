//go:build windows

package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A named pipe as net.Listener and net.Conn, on golang.org/x/sys/windows. Each connected pipe
// handle is opened for overlapped I/O and handed to os.NewFile, which (Go 1.25 and later)
// associates it with the runtime's I/O completion port: reads and writes do not hold an OS
// thread, run concurrently (an events stream reads and writes at once), and honour deadlines.
// Only the wait for a client to connect blocks a thread, in Accept.

// pipeBuffer is the size of each direction's buffer in the pipe.
const pipeBuffer = 64 << 10

// pipeListener accepts connections on one pipe name, one pipe instance at a time.
type pipeListener struct {
	name string
	sa   *windows.SecurityAttributes
	stop windows.Handle // an event set by Close

	mu     sync.Mutex
	next   windows.Handle // the instance the next Accept waits on
	closed bool
}

// listenPipe creates the first instance of the pipe name; it fails if the name exists already.
func listenPipe(name string, sd *windows.SECURITY_DESCRIPTOR) (*pipeListener, error) {
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	h, err := createPipe(name, sa, true)
	if err != nil {
		return nil, err
	}
	stop, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		_ = windows.CloseHandle(h)
		return nil, err
	}
	return &pipeListener{name: name, sa: sa, stop: stop, next: h}, nil
}

// createPipe makes one instance of the pipe, for local clients only.
func createPipe(name string, sa *windows.SecurityAttributes, first bool) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return windows.InvalidHandle, err
	}
	mode := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		mode |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	return windows.CreateNamedPipe(p, mode,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		windows.PIPE_UNLIMITED_INSTANCES, pipeBuffer, pipeBuffer, 0, sa)
}

// Accept waits for a client on the current instance, makes the next instance and returns the
// connected one. It returns net.ErrClosed once Close was called.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	h := l.next
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, net.ErrClosed
	}
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(ev)
	ov := &windows.Overlapped{HEvent: ev}
	err = windows.ConnectNamedPipe(h, ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED):
	case errors.Is(err, windows.ERROR_IO_PENDING):
		// Returns when a client connected or Close set stop.
		w, werr := windows.WaitForMultipleObjects([]windows.Handle{ev, l.stop}, false, windows.INFINITE)
		if werr != nil || w != windows.WAIT_OBJECT_0 {
			_ = windows.CancelIoEx(h, ov)
			var n uint32
			_ = windows.GetOverlappedResult(h, ov, &n, true)
			if werr == nil {
				werr = net.ErrClosed
			}
			return nil, werr
		}
		var n uint32
		if err := windows.GetOverlappedResult(h, ov, &n, false); err != nil {
			return nil, fmt.Errorf("connect pipe: %w", err)
		}
	default:
		return nil, fmt.Errorf("connect pipe: %w", err)
	}
	next, err := createPipe(l.name, l.sa, false)
	if err != nil {
		return nil, fmt.Errorf("next pipe instance: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = windows.CloseHandle(next)
		return nil, net.ErrClosed
	}
	l.next = next
	l.mu.Unlock()
	return newPipeConn(h, l.name), nil
}

// Close stops Accept and closes the waiting instance. Connections already accepted stay open.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	_ = windows.SetEvent(l.stop)
	// Accept, if waiting, cancels its ConnectNamedPipe before it returns; the handle is closed
	// after a moment's grace so that the cancel finds it open.
	h := l.next
	time.AfterFunc(time.Second, func() { _ = windows.CloseHandle(h); _ = windows.CloseHandle(l.stop) })
	return nil
}

// Addr returns the pipe's name.
func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.name) }

// dialPipe opens the pipe name, waiting up to timeout while all its instances are busy.
func dialPipe(name string, timeout time.Duration) (net.Conn, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	// Ends when the pipe opens, fails other than busy, or the deadline passes.
	for {
		h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			return newPipeConn(h, name), nil
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) || time.Now().After(deadline) {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pipeConn is a connected pipe handle, read and written through the runtime's poller.
type pipeConn struct {
	*os.File
	name string
}

func newPipeConn(h windows.Handle, name string) *pipeConn {
	return &pipeConn{File: os.NewFile(uintptr(h), name), name: name}
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.name) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.name) }

// pipeAddr is a pipe's name as a net.Addr.
type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }
