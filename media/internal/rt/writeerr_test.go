package rt

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestWriteFailure(t *testing.T) {
	other := errors.New("the device went away")
	for _, tt := range []struct {
		err   error
		why   string
		cause error
	}{
		{&fs.PathError{Op: "write", Path: "/r/x.wav", Err: syscall.ENOSPC}, "the disk is full", syscall.ENOSPC},
		{&fs.PathError{Op: "write", Path: "/r/x.wav", Err: syscall.EDQUOT}, "the disk quota is used up", syscall.EDQUOT},
		{&fs.PathError{Op: "write", Path: "/r/x.wav", Err: syscall.EFBIG}, "the file became too large", syscall.EFBIG},
		{&fs.PathError{Op: "write", Path: "/r/x.wav", Err: syscall.EIO}, "", syscall.EIO},
		{other, "", other},
	} {
		why, cause := WriteFailure(tt.err)
		if why != tt.why || !errors.Is(cause, tt.cause) {
			t.Errorf("%v: got %q, %v; want %q, %v", tt.err, why, cause, tt.why, tt.cause)
		}
	}
}
