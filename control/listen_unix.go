//go:build !windows

package control

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"trayphone/internal/paths"
)

// listen makes the control socket at path: a 0700 directory, no live instance answering, a stale
// socket removed, the socket listening with mode 0600.
func listen(path string, log *slog.Logger) (net.Listener, error) {
	if err := paths.EnsureSocketDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket: %s exists and is not a socket; remove it and try again", path)
		}
		if live, pid := probe(path); live {
			return nil, &AlreadyRunningError{Path: path, PID: pid}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
		log.Info("removed stale control socket", "path", path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscallEADDRINUSE) {
			return nil, &AlreadyRunningError{Path: path}
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // removeEndpoint removes the file itself, once.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// dialEndpoint connects to the control socket at path.
func dialEndpoint(path string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("unix", path, timeout)
}

// removeEndpoint removes the socket file of a closed listener.
func removeEndpoint(path string, log *slog.Logger) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("remove control socket", "path", path, "err", err)
	}
}

// checkPeer returns why the peer at the other end of c may not use this phone ("" when it may):
// a peer of another uid is refused.
func checkPeer(c net.Conn) (deny string, err error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "", fmt.Errorf("not a Unix socket: %T", c)
	}
	uid, known, err := peerUID(uc)
	if err != nil || !known || uid == os.Getuid() {
		return "", err
	}
	return fmt.Sprintf("this trayphone belongs to uid %d, not uid %d", os.Getuid(), uid), nil
}
