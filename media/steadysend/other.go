//go:build !linux || !cgo

package steadysend

import "trayphone/media"

// Steady send's threads are Linux C code: here media is told why there are none, and a session
// that would change over says so in its log and keeps sending from its loop.
func init() {
	media.RegisterSteadySend(nil, "steady send (two C timer threads) is built only with cgo on Linux, and this build is not")
}
