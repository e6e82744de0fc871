package media

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Steady send's threads (steady.go) are C code: the leaf package media/steadysend registers them
// (RegisterSteadySend), so that media stays pure Go. Without it a session sends from its loop.

// SteadySender sends one session's packets from timer threads: slot k's packet leaves at the
// grid's k-th deadline. Its methods other than Stop are called by the session's send goroutine
// only, and Post must not allocate.
type SteadySender interface {
	// Post hands slot k's packet (to the socket address sa) to the threads; due says whether the
	// deadline has passed already. It reports false when the caller must send the packet itself,
	// now.
	Post(k int64, pkt, sa []byte, due bool) (bool, error)
	// SendErr returns how many of the threads' sends failed since the last call, and the last
	// one's error.
	SendErr() (uint64, error)
	// Counts returns how many packets the threads sent and how many the session's loop sent.
	Counts() (threads, loop uint64)
	// Tardy returns how many packets the threads sent more than 0.5 ms after their deadline.
	Tardy() uint64
	// Stop ends the threads and releases the sender; it is the last call.
	Stop()
}

// SteadyStart starts a SteadySender on a duplicate of conn's socket: slot k leaves at base +
// k×period (CLOCK_MONOTONIC ns); the threads handle slots from first on. manual starts no threads
// (tests make the deadlines come).
type SteadyStart func(conn *net.UDPConn, base int64, period time.Duration, first int64, manual bool) (SteadySender, error)

// ErrSteadyOneCPU is a SteadyStart's answer when this process may use only one CPU.
var ErrSteadyOneCPU = errors.New("steady send needs two CPUs and this process may use one")

// steadyImpl is the registered steady send, or why there is none in this build.
var steadyImpl struct {
	sync.RWMutex
	start   SteadyStart
	missing string
}

// RegisterSteadySend makes start the way sessions start steady send (a leaf package calls it
// from init). With start nil, missing says why this build has no steady send.
func RegisterSteadySend(start SteadyStart, missing string) {
	steadyImpl.Lock()
	defer steadyImpl.Unlock()
	steadyImpl.start, steadyImpl.missing = start, missing
}

// steadySender is the session's handle on the registered SteadySender.
type steadySender struct{ s SteadySender }

// startSteady starts the registered steady send (SteadyStart says what the arguments mean).
func startSteady(conn *net.UDPConn, base int64, period time.Duration, first int64, manual bool) (*steadySender, error) {
	steadyImpl.RLock()
	start, missing := steadyImpl.start, steadyImpl.missing
	steadyImpl.RUnlock()
	if start == nil {
		if missing == "" {
			missing = "steady send is not in this build (media/steadysend is not linked in)"
		}
		return nil, errors.New(missing)
	}
	s, err := start(conn, base, period, first, manual)
	if err != nil {
		return nil, err
	}
	return &steadySender{s: s}, nil
}

func (s *steadySender) post(k int64, pkt, sa []byte, due bool) (bool, error) {
	return s.s.Post(k, pkt, sa, due)
}
func (s *steadySender) sendErr() (uint64, error)       { return s.s.SendErr() }
func (s *steadySender) counts() (threads, loop uint64) { return s.s.Counts() }
func (s *steadySender) tardy() uint64                  { return s.s.Tardy() }
func (s *steadySender) stop()                          { s.s.Stop() }
