//go:build !linux

package nat

import (
	"context"
	"errors"
)

// openOSSleeper has no power notifications to offer here yet: IOKit's IORegisterForSystemPower
// on macOS needs cgo and a CFRunLoop thread; Windows' PowerRegisterSuspendResumeNotification
// (or WM_POWERBROADCAST on a hidden window) is the planned hook there. Wake-ups are noticed by the
// clock jump meanwhile.
func openOSSleeper(context.Context) (sleeper, error) {
	return nil, errors.New("no power notifications on this system yet")
}
