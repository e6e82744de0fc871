//go:build !linux

package rt

import (
	"errors"
	"time"
)

// tickTimer is a periodic kernel timer on Linux (ticker_linux.go); elsewhere the pacer uses Go's
// timers.
type tickTimer struct{}

func newTickTimer(time.Duration, time.Time) (*tickTimer, error) {
	return nil, errors.New("tick timer: not available on this platform")
}

// MonoOf is the kernel clock's reading of t; there is no kernel timer to use it with here.
func MonoOf(time.Time) (int64, error) {
	return 0, errors.New("kernel clock: not available on this platform")
}

func (t *tickTimer) wait() (uint64, error) { return 0, errors.New("tick timer: not available") }
func (t *tickTimer) interrupt()            {}
func (t *tickTimer) close()                {}
