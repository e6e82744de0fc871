//go:build unix

package paths

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a directory that another user owns or whose mode has any of the bits in deny.
func checkOwner(dir string, fi fs.FileInfo, deny fs.FileMode) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("check directory %s: no owner information", dir)
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not by you (uid %d); remove it and try again", dir, st.Uid, uid)
	}
	if fi.Mode().Perm()&deny != 0 {
		return &notPrivateError{dir: dir, mode: fi.Mode().Perm()}
	}
	return nil
}

// notPrivateError reports a directory whose mode lets others in.
type notPrivateError struct {
	dir  string
	mode fs.FileMode
}

func (e *notPrivateError) Error() string {
	return fmt.Sprintf("%s is accessible by other users (mode %s); run \"chmod 700 %s\"", e.dir, e.mode, e.dir)
}

func (e *notPrivateError) Unwrap() error { return errNotPrivate }
