//go:build !linux

package media

import "errors"

// Real-time scheduling during calls is Linux-only for now (realtime_linux.go); elsewhere a
// session says so once and runs in the ordinary class.
var errRealtimeNotPermitted = errors.New("real-time scheduling during calls is not supported on this platform yet")

type rtState struct{}

var realtime rtState

func (r *rtState) acquire() error { return errRealtimeNotPermitted }
func (r *rtState) release()       {}
func (r *rtState) refresh()       {}
