package media

import (
	"fmt"
	"sync"
	"time"
)

// Echo is a Device that plays back what is written to it after a delay: the far end of the echo
// test. It holds a FIFO of frames; before the first written frame comes due, Read returns silence.
type Echo struct {
	delay time.Duration
}

// NewEcho returns an echo device with the given delay, rounded down to whole 20 ms frames.
func NewEcho(delay time.Duration) *Echo { return &Echo{delay: max(delay, 0)} }

// Name returns "echo".
func (e *Echo) Name() string { return "echo" }

// Open starts an echo stream with an empty FIFO.
func (e *Echo) Open(rate, frameSamples int) (Stream, error) {
	if err := checkOpen(e.Name(), rate, frameSamples); err != nil {
		return nil, err
	}
	frameDur := time.Duration(frameSamples) * time.Second / time.Duration(rate)
	delayFrames := int(e.delay / frameDur)
	// Room for the delay plus slack for a reader that pauses; past that, the oldest frame goes.
	slots := delayFrames + 50
	s := &echoStream{
		frame: frameSamples,
		buf:   make([]int16, slots*frameSamples),
		slots: slots,
		count: delayFrames, // the delay starts as silent frames
	}
	return s, nil
}

type echoStream struct {
	mu     sync.Mutex
	frame  int
	buf    []int16 // slots frames, a ring
	slots  int
	head   int // index of the oldest frame
	count  int // frames queued
	closed bool
}

func (s *echoStream) Read(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed("echo")
	}
	if s.count == 0 {
		clear(p)
		return nil
	}
	n := copy(p, s.buf[s.head*s.frame:(s.head+1)*s.frame])
	clear(p[n:])
	s.head = (s.head + 1) % s.slots
	s.count--
	return nil
}

func (s *echoStream) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed("echo")
	}
	if s.count == s.slots { // full: drop the oldest
		s.head = (s.head + 1) % s.slots
		s.count--
	}
	slot := (s.head + s.count) % s.slots
	dst := s.buf[slot*s.frame : (slot+1)*s.frame]
	n := copy(dst, p)
	clear(dst[n:])
	s.count++
	return nil
}

func (s *echoStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// checkOpen validates the arguments of Device.Open.
func checkOpen(name string, rate, frameSamples int) error {
	if rate <= 0 || frameSamples <= 0 {
		return fmt.Errorf("open audio device %q: invalid rate %d or frame size %d", name, rate, frameSamples)
	}
	return nil
}

// errClosed is returned by a stream used after Close.
func errClosed(name string) error { return fmt.Errorf("audio device %q: stream is closed", name) }
