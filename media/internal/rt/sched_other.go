//go:build !linux

package rt

import "errors"

// Real-time scheduling during calls is Linux-only for now (realtime_linux.go); elsewhere a
// session says so once and runs in the ordinary class.
var ErrNotPermitted = errors.New("real-time scheduling during calls is not supported on this platform yet")

type rtState struct{}

var realtime rtState

func (r *rtState) acquire() error { return ErrNotPermitted }
func (r *rtState) release()       {}
func (r *rtState) refresh()       {}

// Acquire says that real-time scheduling is not supported here; the caller must still call Release.
func Acquire() error { return realtime.acquire() }

// Release does nothing here.
func Release() { realtime.release() }

// Refresh does nothing here.
func Refresh() { realtime.refresh() }
