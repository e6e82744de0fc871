package media

import (
	"errors"
	"testing"
)

// failingStream fails every Read and Write after ok frames.
type failingStream struct {
	ok     int
	n      int
	closed bool
}

func (f *failingStream) Read(p []int16) error {
	f.n++
	if f.n > f.ok {
		clear(p)
		return errors.New(`audio device "usb" disappeared: no audio from it for 3.0s`)
	}
	for i := range p {
		p[i] = 7
	}
	return nil
}
func (f *failingStream) Write(p []int16) error { return nil }
func (f *failingStream) Close() error          { f.closed = true; return nil }

func TestSwitchStream(t *testing.T) {
	t.Parallel()
	first := &failingStream{ok: 2}
	var fails []error
	ended := 0
	s := NewSwitchStream(first, func(err error) { fails = append(fails, err) }, func() { ended++ })
	buf := make([]int16, 4)
	for range 5 {
		s.Read(buf)
	}
	if len(fails) != 1 {
		t.Fatalf("failures reported: got %d, want 1 (once per stream)", len(fails))
	}
	second := &failingStream{ok: 100}
	old := s.Swap(second)
	if old != first {
		t.Fatalf("Swap returned %v, want the first stream", old)
	}
	if err := s.Read(buf); err != nil || buf[0] != 7 {
		t.Fatalf("after swap: got %v %v, want audio from the new stream", buf, err)
	}
	s.Close()
	s.Close()
	if !second.closed || first.closed || ended != 1 {
		t.Errorf("close: second closed %v, first closed %v, onEnd ran %d; want true, false, 1", second.closed, first.closed, ended)
	}
}
