package media

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRecorderStereo: near on the left, far on the right, silence for a missing side and for
// skipped ticks, every frame in order, and the file private.
func TestRecorderStereo(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "call.wav")
	const frame = 160
	r, err := NewRecorder(path, 8000, frame, func(err error) { t.Errorf("onStop(%v) for a recording that did not fail", err) })
	if err != nil {
		t.Fatal(err)
	}
	near, far := make([]int16, frame), make([]int16, frame)
	const ticks = 500 // 10 s: past the header rewrite every second
	for k := range ticks {
		for i := range frame {
			near[i], far[i] = int16(k), int16(-k-1)
		}
		switch k {
		case 10:
			r.Frame(nil, far) // not sending
		case 11:
			r.Frame(near, nil) // not playing
		case 12:
			r.Silence(3)
		default:
			r.Frame(near, far)
		}
		if k%10 == 0 {
			time.Sleep(time.Millisecond) // a call hands over a frame every 20 ms
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
	s, rate, ch, err := ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 || ch != 2 {
		t.Fatalf("rate %d, channels %d; want 8000, 2", rate, ch)
	}
	if got, want := len(s), 2*frame*(ticks+2); got != want {
		t.Fatalf("%d samples, want %d (%d ticks, 3 of them silence for one)", got, want, ticks+2)
	}
	// The frame index of tick k in the file: ticks after 12 are 2 frames later.
	at := func(k int) int {
		if k > 12 {
			return k + 2
		}
		return k
	}
	for k := range ticks {
		l, r := s[2*frame*at(k)], s[2*frame*at(k)+1]
		wantL, wantR := int16(k), int16(-k-1)
		switch k {
		case 10:
			wantL = 0
		case 11:
			wantR = 0
		case 12:
			wantL, wantR = 0, 0
		}
		if l != wantL || r != wantR {
			t.Fatalf("tick %d: left %d right %d, want %d %d", k, l, r, wantL, wantR)
		}
	}
	for i := 2 * frame * 12; i < 2*frame*15; i++ {
		if s[i] != 0 {
			t.Fatalf("sample %d of the skipped ticks is %d, want silence", i, s[i])
		}
	}
}

// slowWriter takes frames only as fast as release lets it.
type slowWriter struct {
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
	n       int
}

func (w *slowWriter) Write(p []int16) error {
	select {
	case <-w.release:
	case <-w.closed:
	}
	w.n++
	return nil
}

func (w *slowWriter) Close() error { w.once.Do(func() { close(w.closed) }); return nil }

// TestRecorderDiskTooSlow: a disk that stops taking writes fills the queue; the recording then
// stops with the reason, and the send side never waits for it.
func TestRecorderDiskTooSlow(t *testing.T) {
	t.Parallel()
	w := &slowWriter{release: make(chan struct{}), closed: make(chan struct{})}
	stopped := make(chan error, 1)
	r := newRecorder("slow.wav", w, 8000, 160, func(err error) { stopped <- err })
	f := make([]int16, 160)
	start := time.Now()
	for range 1000 { // 20 s of audio; the queue holds 3 s
		r.Frame(f, f)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("1000 frames took %s to hand over, want them never to wait on the disk", d)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, ErrRecordBehind) {
			t.Errorf("stopped because %v, want %v", err, ErrRecordBehind)
		}
		t.Logf("stopped: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the recording did not stop when the disk fell behind")
	}
	close(w.release) // the disk comes back: the writer finishes the file
	if err := r.Close(); !errors.Is(err, ErrRecordBehind) {
		t.Errorf("Close: %v, want %v", err, ErrRecordBehind)
	}
	r.Frame(f, f) // after it stopped: ignored, no panic, no wait
}

// failWriter fails its nth write with err.
type failWriter struct {
	n, fail int
	err     error
	closed  bool
}

func (w *failWriter) Write([]int16) error {
	w.n++
	if w.n >= w.fail {
		return w.err
	}
	return nil
}

func (w *failWriter) Close() error { w.closed = true; return nil }

// TestRecorderWriteFails: a failing write stops the recording once, with the reason in words,
// and the file is closed.
func TestRecorderWriteFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "write", Path: "x.wav", Err: syscall.ENOSPC}, "the disk is full"},
		{&os.PathError{Op: "write", Path: "x.wav", Err: syscall.EIO}, "writing the recording failed"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			w := &failWriter{fail: 20, err: tc.err}
			var calls int
			var mu sync.Mutex
			stopped := make(chan error, 2)
			r := newRecorder("x.wav", w, 8000, 160, func(err error) {
				mu.Lock()
				calls++
				mu.Unlock()
				stopped <- err
			})
			f := make([]int16, 160)
			for range 40 {
				r.Frame(f, f)
				time.Sleep(time.Millisecond)
			}
			var err error
			select {
			case err = <-stopped:
			case <-time.After(5 * time.Second):
				t.Fatal("the recording did not stop")
			}
			if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.err.(*os.PathError).Err) {
				t.Errorf("reason %q, want it to say %q and wrap %v", err, tc.want, tc.err)
			}
			if cerr := r.Close(); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Close: %v, want %v", cerr, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != 1 || !w.closed {
				t.Errorf("onStop ran %d times, file closed %v; want once, closed", calls, w.closed)
			}
		})
	}
}

// TestRecorderCloseWritesQueue: Close writes what is still queued.
func TestRecorderCloseWritesQueue(t *testing.T) {
	t.Parallel()
	w := &slowWriter{release: make(chan struct{}), closed: make(chan struct{})}
	r := newRecorder("q.wav", w, 8000, 160, nil)
	f := make([]int16, 160)
	for range 50 {
		r.Frame(f, f)
	}
	go func() {
		for range 50 {
			w.release <- struct{}{}
		}
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if w.n != 50 {
		t.Errorf("%d frames written, want 50", w.n)
	}
}
