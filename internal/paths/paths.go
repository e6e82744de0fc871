// Package paths tells where trayphone keeps its files: the user settings file, the state directory
// (call history and the like) and the per-user control socket.
package paths

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/adrg/xdg"
)

// appName is the directory name used under the XDG base directories.
const appName = "trayphone"

// Paths are the locations of trayphone's files for one user.
type Paths struct {
	Home   string // the --home directory, or "" when the XDG directories are used
	Config string // the user settings file, config.toml
	State  string // the directory for history and other state
	Socket string // the control socket
}

// Resolve returns trayphone's paths. With home == "" it follows the XDG base directory spec:
// $XDG_CONFIG_HOME/trayphone/config.toml, $XDG_STATE_HOME/trayphone and
// $XDG_RUNTIME_DIR/trayphone/control.sock; when XDG_RUNTIME_DIR is unset the socket lives in
// trayphone-UID under os.TempDir(). With home set everything lives in that one directory:
// HOME/config.toml, HOME/state and HOME/control.sock.
//
// Resolve creates nothing; call EnsureSocketDir on the socket's directory before listening.
func Resolve(home string) Paths {
	if home != "" {
		return Paths{
			Home:   home,
			Config: filepath.Join(home, "config.toml"),
			State:  filepath.Join(home, "state"),
			Socket: filepath.Join(home, "control.sock"),
		}
	}
	// xdg reads the environment once at init; read it again so that a changed environment (tests,
	// a long-lived parent) is honoured.
	xdg.Reload()
	return Paths{
		Config: filepath.Join(xdg.ConfigHome, appName, "config.toml"),
		State:  filepath.Join(xdg.StateHome, appName),
		Socket: filepath.Join(runtimeDir(), "control.sock"),
	}
}

// runtimeDir is $XDG_RUNTIME_DIR/trayphone, or TMPDIR/trayphone-UID when XDG_RUNTIME_DIR is unset.
func runtimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, appName)
	}
	return runtimeFallback()
}

// runtimeFallback is the per-user socket directory used when XDG_RUNTIME_DIR is unset.
func runtimeFallback() string {
	return filepath.Join(os.TempDir(), appName+"-"+strconv.Itoa(os.Getuid()))
}

// EnsurePrivateDir creates dir with mode 0700 if it does not exist, and then checks that it is a
// real directory (not a symlink), owned by the current user and not accessible by group or others.
// It refuses rather than repairs: a directory in a shared place such as /tmp that someone else
// created, or that is open to others, may be a trap.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link, not a directory; remove it and try again", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory; remove it and try again", dir)
	}
	return checkOwner(dir, fi, 0o077)
}

// EnsureSocketDir prepares the directory of the control socket. The per-user fallback under
// os.TempDir() (see Resolve) must be private, as EnsurePrivateDir checks: anyone can create files
// there. Any other directory (under $XDG_RUNTIME_DIR, or a --home directory) is created 0700 when
// missing; when it exists it must be owned by the current user and not writable by group or others,
// so that nobody else can replace the socket. Read access is tolerated there: the socket itself is
// 0600 and the server checks each peer's uid.
func EnsureSocketDir(dir string) error {
	if filepath.Clean(dir) == filepath.Clean(runtimeFallback()) {
		return EnsurePrivateDir(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory; remove it and try again", dir)
	}
	return checkOwner(dir, fi, 0o022)
}

// errNotPrivate is wrapped by the errors for a directory open to others.
var errNotPrivate = errors.New("directory is open to other users")
