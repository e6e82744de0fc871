//go:build windows

package control

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// On Windows the control channel is a named pipe, with the same line-delimited JSON protocol as
// the Unix socket. A pipe is not a file: its name is derived from the socket path the phone was
// given (so two phones with different --home directories have two pipes) and from the user's SID,
// and its security descriptor lets only that user (and SYSTEM, which can do anything anyway)
// open it. Named pipes live in one namespace for the whole computer, so each side also checks the
// other: the server refuses a client whose process runs as another user, and the client refuses
// a server that another user created first under our name (a squatter that would read our
// commands).

// errForeignPipe is wrapped by the error for a pipe of our name that another user's process
// serves.
var errForeignPipe = errors.New("served by another user's process")

// pipeName returns the named pipe that serves the control channel whose socket path is path, for
// the current user.
func pipeName(path string) (string, error) {
	sid, err := userSID()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	sum := sha256.Sum256([]byte(sid.String() + "\x00" + strings.ToLower(abs)))
	return `\\.\pipe\trayphone-` + hex.EncodeToString(sum[:12]), nil
}

// pipeSDDL is the pipe's security descriptor: owned by sid, a protected DACL that allows sid
// everything and nobody else anything.
func pipeSDDL(sid *windows.SID) string {
	return "O:" + sid.String() + "D:P(A;;GA;;;" + sid.String() + ")"
}

// listen creates the control pipe for path: refused when another live instance answers on it.
func listen(path string, _ *slog.Logger) (net.Listener, error) {
	name, err := pipeName(path)
	if err != nil {
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	// A pipe of our name that another user's process serves is a squatter: say so rather than
	// "already running" (our own creation would fail below).
	if c, err := dialEndpoint(path, time.Second); errors.Is(err, errForeignPipe) {
		return nil, fmt.Errorf("control pipe: %w", err)
	} else if err == nil {
		_ = c.Close()
	}
	if live, pid := probe(path); live {
		return nil, &AlreadyRunningError{Path: name, PID: pid}
	}
	sid, err := userSID()
	if err != nil {
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	sd, err := windows.SecurityDescriptorFromString(pipeSDDL(sid))
	if err != nil {
		return nil, fmt.Errorf("control pipe: security descriptor: %w", err)
	}
	ln, err := listenPipe(name, sd)
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) || errors.Is(err, fs.ErrExist) {
			return nil, &AlreadyRunningError{Path: name}
		}
		return nil, fmt.Errorf("control pipe %s: %w", name, err)
	}
	return ln, nil
}

// dialEndpoint connects to the control pipe for path and checks that the process serving it runs
// as the current user. A missing pipe wraps syscallENOENT (Dial reports "not running").
func dialEndpoint(path string, timeout time.Duration) (net.Conn, error) {
	name, err := pipeName(path)
	if err != nil {
		return nil, err
	}
	c, err := dialPipe(name, timeout)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &os.PathError{Op: "dial", Path: name, Err: syscallENOENT}
		}
		return nil, err
	}
	deny, err := checkProcess(c, windows.GetNamedPipeServerProcessId)
	if err == nil && deny != "" {
		err = fmt.Errorf("%s is %w (%s): not using it", name, errForeignPipe, deny)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// removeEndpoint has nothing to remove: a pipe goes away with its last handle.
func removeEndpoint(string, *slog.Logger) {}

// checkPeer returns why the client at the other end of c may not use this phone ("" when it
// may): a process running as another user is refused.
func checkPeer(c net.Conn) (deny string, err error) {
	return checkProcess(c, windows.GetNamedPipeClientProcessId)
}

// checkProcess asks the pipe c for the other end's process id with pidOf and compares that
// process's user with ours; deny names the other user when they differ.
func checkProcess(c net.Conn, pidOf func(windows.Handle, *uint32) error) (deny string, err error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return "", fmt.Errorf("not a pipe: %T", c)
	}
	var pid uint32
	if err := pidOf(windows.Handle(f.Fd()), &pid); err != nil {
		return "", fmt.Errorf("pipe peer's process id: %w", err)
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return "", fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("token of process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("user of process %d: %w", pid, err)
	}
	me, err := userSID()
	if err != nil {
		return "", err
	}
	if tu.User.Sid.Equals(me) {
		return "", nil
	}
	return fmt.Sprintf("this trayphone belongs to %s, not %s", me, tu.User.Sid), nil
}

// userSID returns the SID of the user this process runs as.
func userSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	return tu.User.Sid, nil
}
