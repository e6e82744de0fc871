package media

import (
	"sync"
	"time"

	"trayphone/internal/clock"
	"trayphone/media/internal/rt"
)

// SwitchStream is a Stream whose underlying stream can be replaced while a call runs: the call
// moves to another sound device when its own disappears, or into a conference Mixer. The first
// error of the current stream is reported to onFail (once per stream), on the goroutine that
// hit it; onFail must not block.
type SwitchStream struct {
	mu     sync.Mutex
	cur    Stream
	failed bool
	closed bool
	onFail func(err error)
	onEnd  func()
}

// NewSwitchStream wraps s. onFail (may be nil) hears of the current stream's first error; onEnd
// (may be nil) runs once when the SwitchStream is closed.
func NewSwitchStream(s Stream, onFail func(error), onEnd func()) *SwitchStream {
	return &SwitchStream{cur: s, onFail: onFail, onEnd: onEnd}
}

func (s *SwitchStream) fail(err error) {
	if err == nil || s.failed || s.closed {
		return
	}
	s.failed = true
	if s.onFail != nil {
		s.onFail(err)
	}
}

// Read reads from the current stream.
func (s *SwitchStream) Read(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.cur.Read(p)
	s.fail(err)
	return err
}

// Write writes to the current stream.
func (s *SwitchStream) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.cur.Write(p)
	s.fail(err)
	return err
}

// Swap makes next the current stream and returns the one it replaces, which the caller closes.
// After Close it returns next itself (closing it is still the caller's job).
func (s *SwitchStream) Swap(next Stream) Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return next
	}
	old := s.cur
	s.cur, s.failed = next, false
	return old
}

// Current returns the current stream.
func (s *SwitchStream) Current() Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Close closes the current stream. It is safe to call more than once.
func (s *SwitchStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.cur.Close()
	onEnd := s.onEnd
	s.mu.Unlock()
	if onEnd != nil {
		onEnd()
	}
	return err
}

// Pump connects a device stream to a mixer port on its own 20 ms schedule (paced by clk, nil for
// the real clock): the microphone goes into the port, the port's mix to the speaker. It returns a
// stop function that ends the goroutine and waits for it; stop closes neither st nor the port.
func (p *Port) Pump(st Stream, clk clock.Clock) (stop func()) {
	if clk == nil {
		clk = clock.Real{}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		// Exits when stop closes done.
		defer close(exited)
		buf := make([]int16, p.m.frame)
		pc := rt.NewPacer(clk, FrameDuration*time.Millisecond)
		defer pc.Stop()
		for {
			if _, _, ok := pc.Wait(done); !ok {
				return
			}
			if st.Read(buf) != nil {
				clear(buf)
			}
			_ = p.Write(buf)
			_ = p.Read(buf)
			_ = st.Write(buf)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}
