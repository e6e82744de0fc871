//go:build unix

package account

import (
	"fmt"
	"os"
	"syscall"
)

// checkSecretFile refuses a fallback secret file that another user owns or that others may read
// or write: a secret someone else could have read is not secret, and one someone else wrote is
// not the user's. It checks the open file, not its name, so the file checked is the file read.
func checkSecretFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check secret file %s: %w", f.Name(), err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("check secret file %s: no owner information", f.Name())
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("secret file %s belongs to uid %d, not to you (uid %d): not using it; remove it and set the secret again", f.Name(), st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secret file %s can be read or changed by other users (mode %s): not using it; set the secret again (or run \"chmod 600 %s\" if you trust it)", f.Name(), perm, f.Name())
	}
	return nil
}
