package rt

import (
	"errors"
	"syscall"
)

// WriteFailure says why a write to a file failed, in a user's words where the system's error
// number tells (the disk full, the quota used up, the file too large; why is "" otherwise), and
// the cause to show beside it: the error number where there is one, else err.
func WriteFailure(err error) (why string, cause error) {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "the disk is full", syscall.ENOSPC
	case errors.Is(err, syscall.EDQUOT):
		return "the disk quota is used up", syscall.EDQUOT
	case errors.Is(err, syscall.EFBIG):
		return "the file became too large", syscall.EFBIG
	case errors.As(err, &errno):
		return "", errno
	}
	return "", err
}
