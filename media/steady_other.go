//go:build !linux || !cgo

package media

import (
	"errors"
	"net"
	"time"
)

// steadySender sends from two timer threads on Linux (steady_linux.go); elsewhere a session
// sends from its own loop.
type steadySender struct{}

var errSteadyOneCPU = errors.New("steady send is not available on this platform")

func startSteady(*net.UDPConn, int64, time.Duration, int64, bool) (*steadySender, error) {
	return nil, errSteadyOneCPU
}

func (s *steadySender) post(int64, []byte, []byte, bool) (bool, error) { return false, nil }
func (s *steadySender) sendErr() (uint64, error)                       { return 0, nil }
func (s *steadySender) counts() (uint64, uint64)                       { return 0, 0 }
func (s *steadySender) tardy() uint64                                  { return 0 }
func (s *steadySender) stop()                                          {}

// virtualMachine is not asked where steady send does not exist.
func virtualMachine() bool { return false }
