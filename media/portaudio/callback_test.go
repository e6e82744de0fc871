//go:build cgo && linux && !noportaudio

package portaudio

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newTestState returns a C state for frames of devFrame samples with rings of paRingFrames
// frames, freed when t ends.
func newTestState(t *testing.T, devFrame int) *cState {
	t.Helper()
	st, err := newCState(devFrame, paRingFrames*devFrame)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.free)
	return st
}

// frameOf returns a frame of n samples, all v.
func frameOf(n int, v int16) []int16 {
	p := make([]int16, n)
	for i := range p {
		p[i] = v
	}
	return p
}

// framesOf returns frames of n samples holding first, first+1, ... count times.
func framesOf(n int, first int16, count int) []int16 {
	var p []int16
	for i := range count {
		p = append(p, frameOf(n, first+int16(i))...)
	}
	return p
}

// TestRing moves samples through both rings in the directions they are used, round after round
// so that every position of the wrap-around is crossed: capture (C writes, Go reads) and play
// (Go writes, C reads).
func TestRing(t *testing.T) {
	type ops struct {
		write   func(*ring, []int16) int
		read    func(*ring, []int16) int
		discard func(*ring, int)
		len     func(*ring) int
	}
	for _, tc := range []struct {
		name string
		ring func(*cState) *ring
		ops  ops
	}{
		{"capture", func(st *cState) *ring { return &st.capture }, ops{(*ring).cWrite, (*ring).read, (*ring).discard, (*ring).cLen}},
		{"play", func(st *cState) *ring { return &st.play }, ops{(*ring).write, (*ring).cRead, (*ring).cDiscard, (*ring).len}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := newCState(1, 10) // rounds up to 16
			if err != nil {
				t.Fatal(err)
			}
			defer st.free()
			r, o := tc.ring(st), tc.ops
			if len(r.buf) != 16 {
				t.Fatalf("got a ring of %d samples for 10, want 16", len(r.buf))
			}
			buf := make([]int16, 8)
			for round := range 10 {
				p := []int16{int16(round), 1, 2, 3, 4, 5}
				if n := o.write(r, p); n != 6 {
					t.Fatalf("round %d: wrote %d, want 6", round, n)
				}
				if n := o.read(r, buf[:6]); n != 6 || !slices.Equal(buf[:6], p) {
					t.Fatalf("round %d: read %d %v, want %v", round, n, buf[:6], p)
				}
			}
			full := make([]int16, 20)
			for i := range full {
				full[i] = int16(100 + i)
			}
			if n := o.write(r, full); n != 16 {
				t.Errorf("got %d written into a 16-sample ring, want 16", n)
			}
			if n := o.write(r, full); n != 0 {
				t.Errorf("got %d written into a full ring, want 0", n)
			}
			o.discard(r, 10)
			if n := o.len(r); n != 6 {
				t.Errorf("got len %d after discarding 10 of 16, want 6", n)
			}
			if n := o.read(r, buf); n != 6 || !slices.Equal(buf[:6], full[10:16]) {
				t.Errorf("got %d read %v, want %v", n, buf[:n], full[10:16])
			}
			o.discard(r, 5) // more than is queued
			if n := o.len(r); n != 0 {
				t.Errorf("got len %d after discarding from an empty ring, want 0", n)
			}
		})
	}
}

// TestCallback drives the C callback (callback.c) from Go with test vectors: what it does with
// capture and playback, call by call. Frames are 4 samples; the rings hold paRingFrames frames.
func TestCallback(t *testing.T) {
	const f = 4
	// The standing-queue window in callbacks: these tests call back a whole frame at a time,
	// but the window counts PortAudio's callbacks, paCallbackDiv per frame.
	const window = paTrimWindow * paCallbackDiv
	silence := make([]int16, f)
	// play runs one output-only callback and returns what it played.
	play := func(st *cState) []int16 {
		out := frameOf(f, 77) // garbage: the callback must overwrite every sample
		st.callback(nil, out)
		return out
	}

	t.Run("BeforeStart", func(t *testing.T) {
		st := newTestState(t, f)
		st.play.write(framesOf(f, 1, paPlayPrebuf+1))
		out := frameOf(f, 77)
		st.callback(frameOf(f, 5), out)
		if !slices.Equal(out, silence) {
			t.Errorf("played %v before the stream started, want silence", out)
		}
		if n := st.capture.len(); n != 0 {
			t.Errorf("captured %d samples before the stream started, want none", n)
		}
		if n := st.play.len(); n != (paPlayPrebuf+1)*f {
			t.Errorf("got %d samples queued after playing before the start, want all %d still", n, (paPlayPrebuf+1)*f)
		}
		if c, l := atomic.LoadUint64(st.callbacks), atomic.LoadInt64(st.last); c != 0 || l != 0 {
			t.Errorf("got callbacks %d, last %d before the start, want 0, 0", c, l)
		}
	})

	t.Run("CaptureOverflow", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		for i := range paRingFrames + 1 { // one more than fits
			st.callback(frameOf(f, int16(i+1)), nil)
		}
		if c := atomic.LoadUint64(st.callbacks); c != paRingFrames+1 {
			t.Errorf("got %d callbacks, want %d", c, paRingFrames+1)
		}
		if last := time.Duration(atomic.LoadInt64(st.last)); last <= 0 || last > time.Minute {
			t.Errorf("got the last callback %v after the start, want a moment", last)
		}
		if o := atomic.LoadUint64(st.overflows); o != 1 {
			t.Errorf("got %d overflows, want 1", o)
		}
		got := make([]int16, (paRingFrames+1)*f)
		if n := st.capture.read(got); n != paRingFrames*f {
			t.Fatalf("read %d captured samples, want %d", n, paRingFrames*f)
		}
		if want := framesOf(f, 1, paRingFrames); !slices.Equal(got[:paRingFrames*f], want) {
			t.Errorf("captured %v, want %v (the frame that did not fit dropped)", got, want)
		}
		// Room again: capture goes on where the ring wrapped around.
		st.callback(frameOf(f, 50), nil)
		if n := st.capture.read(got); n != f || !slices.Equal(got[:f], frameOf(f, 50)) {
			t.Errorf("after the overflow: read %v, want %v", got[:n], frameOf(f, 50))
		}
	})

	t.Run("Prebuffer", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		if out := play(st); !slices.Equal(out, silence) {
			t.Errorf("played %v from an empty queue, want silence", out)
		}
		// Short of paPlayPrebuf frames: silence, and nothing taken from the queue.
		for i := range paPlayPrebuf - 1 {
			st.play.write(frameOf(f, int16(i+1)))
			if out := play(st); !slices.Equal(out, silence) {
				t.Errorf("played %v with %d frames queued, want silence until %d are", out, i+1, paPlayPrebuf)
			}
		}
		if n := st.play.len(); n != (paPlayPrebuf-1)*f {
			t.Errorf("got %d samples queued, want %d", n, (paPlayPrebuf-1)*f)
		}
		if st.primed() {
			t.Error("primed before paPlayPrebuf frames were queued")
		}
		st.play.write(frameOf(f, paPlayPrebuf))
		for i := range paPlayPrebuf {
			if out := play(st); !slices.Equal(out, frameOf(f, int16(i+1))) {
				t.Errorf("played %v, want frame %d", out, i+1)
			}
		}
		if !st.primed() {
			t.Error("not primed after playing")
		}
		if u := atomic.LoadUint64(st.underruns); u != 0 {
			t.Errorf("got %d underruns, want 0 (the waiting is not one)", u)
		}
	})

	t.Run("Underrun", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		st.play.write(framesOf(f, 1, paPlayPrebuf))
		st.play.write(frameOf(f/2, paPlayPrebuf+1)) // half a frame more
		for i := range paPlayPrebuf {
			play(st)
			if u := atomic.LoadUint64(st.underruns); u != 0 {
				t.Fatalf("callback %d: got %d underruns, want 0", i, u)
			}
		}
		out := play(st)
		if want := append(frameOf(f/2, paPlayPrebuf+1), make([]int16, f-f/2)...); !slices.Equal(out, want) {
			t.Errorf("played %v from half a frame, want %v (the rest cleared)", out, want)
		}
		if u := atomic.LoadUint64(st.underruns); u != 1 {
			t.Errorf("got %d underruns, want 1", u)
		}
		if st.primed() {
			t.Error("still primed after the underrun")
		}
		// Prebuffering again: one frame is not enough.
		st.play.write(frameOf(f, 9))
		if out := play(st); !slices.Equal(out, silence) {
			t.Errorf("played %v with 1 frame queued after an underrun, want silence", out)
		}
		if u := atomic.LoadUint64(st.underruns); u != 1 {
			t.Errorf("got %d underruns while prebuffering, want still 1", u)
		}
	})

	t.Run("Trim", func(t *testing.T) {
		for _, tc := range []struct {
			queued int   // frames, numbered from 1
			first  int16 // the frame played
			left   int   // frames queued after
		}{
			{paMaxQueued, 1, paMaxQueued - 1},                               // at the limit: kept
			{paMaxQueued + 1, paMaxQueued + 1 - paTrimTo + 1, paTrimTo - 1}, // past it: the newest paTrimTo kept
			{paRingFrames, paRingFrames - paTrimTo + 1, paTrimTo - 1},       // a full ring
			{paMaxQueued + 3, paMaxQueued + 3 - paTrimTo + 1, paTrimTo - 1}, // any amount past it
		} {
			st := newTestState(t, f)
			st.start()
			st.play.write(framesOf(f, 1, tc.queued))
			if out := play(st); !slices.Equal(out, frameOf(f, tc.first)) {
				t.Errorf("%d frames queued: played %v, want frame %d", tc.queued, out, tc.first)
			}
			if n := st.play.len(); n != tc.left*f {
				t.Errorf("%d frames queued: %d samples left after playing one frame, want %d", tc.queued, n, tc.left*f)
			}
		}
	})

	// Two frames stood queued beyond what each callback needed for a whole window (more than
	// half a frame and a callback period): the callback drops them down to half a frame, once,
	// and plays on from the newer audio.
	t.Run("StandingTrim", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		st.play.write(framesOf(f, 1, paPlayPrebuf+1)) // frames 1, 2, 3
		next := int16(paPlayPrebuf + 2)
		for i := range window {
			out := play(st) // plays frame i+1, leaves two frames queued
			if !slices.Equal(out, frameOf(f, int16(i+1))) {
				t.Fatalf("callback %d played %v, want frame %d", i, out, i+1)
			}
			st.play.write(frameOf(f, next))
			next++
		}
		// The window's last callback left 2f queued (frames window+1, window+2) and dropped all
		// but half a frame of it.
		if got, want := atomic.LoadUint64(st.trimmed), uint64(2*f-f/2); got != want {
			t.Fatalf("trimmed %d samples after a window standing at two frames, want %d", got, want)
		}
		w := int16(window + 2)
		if out, want := play(st), append(frameOf(f/2, w), frameOf(f-f/2, w+1)[:f-f/2]...); !slices.Equal(out, want) {
			t.Errorf("after the trim played %v, want the rest of frame %d then frame %d: %v", out, w, w+1, want)
		}
		// Now at half a frame: no more trimming, no underrun.
		for range 2 * window {
			st.play.write(frameOf(f, next))
			next++
			play(st)
		}
		if got := atomic.LoadUint64(st.trimmed); got != uint64(2*f-f/2) {
			t.Errorf("trimmed %d samples in total, want still %d: half a frame is the slack kept", got, 2*f-f/2)
		}
		if u := atomic.LoadUint64(st.underruns); u != 0 {
			t.Errorf("got %d underruns, want 0", u)
		}
	})

	// One frame stood queued for a whole window: no more than half a frame and a callback
	// period, the swing a queue has as the callbacks and the Writes slide against each other.
	// Not trimmed: each trim moves the echo path (with 10 ms periods, trims of such swings a
	// few seconds into a call lost the echo canceller the echo in 2 of 6 runs).
	t.Run("SwingNotTrimmed", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		st.play.write(framesOf(f, 1, paPlayPrebuf)) // frames 1, 2
		next := int16(paPlayPrebuf + 1)
		for i := range 3 * window {
			out := play(st) // plays frame i+1, leaves one frame queued
			if !slices.Equal(out, frameOf(f, int16(i+1))) {
				t.Fatalf("callback %d played %v, want frame %d", i, out, i+1)
			}
			st.play.write(frameOf(f, next))
			next++
		}
		if got := atomic.LoadUint64(st.trimmed); got != 0 {
			t.Errorf("trimmed %d samples from a queue standing at one frame, want 0", got)
		}
	})

	// The queue ran down to nothing once in the window (a late Write): nothing stood, nothing
	// is trimmed; an underrun starts the window again.
	t.Run("NoStandingNoTrim", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		st.play.write(framesOf(f, 1, paPlayPrebuf))
		for i := range window {
			play(st)
			if i == window/2 {
				play(st) // the write for this round comes late: the queue empties
				st.play.write(framesOf(f, 1, 2))
				continue
			}
			st.play.write(frameOf(f, 1))
		}
		if got := atomic.LoadUint64(st.trimmed); got != 0 {
			t.Errorf("trimmed %d samples from a queue that ran empty in the window, want 0", got)
		}
		st = newTestState(t, f)
		st.start()
		st.play.write(framesOf(f, 1, paPlayPrebuf))
		for i := range window + window/2 {
			play(st)
			st.play.write(frameOf(f, 1))
			if i == window/2 { // an underrun halfway through the first window
				st.play.read(make([]int16, st.play.len()))
				play(st)
				st.play.write(framesOf(f, 1, paPlayPrebuf))
			}
		}
		if got := atomic.LoadUint64(st.trimmed); got != 0 {
			t.Errorf("trimmed %d samples within a window of an underrun, want 0", got)
		}
	})

	t.Run("Duplex", func(t *testing.T) {
		st := newTestState(t, f)
		st.start()
		st.play.write(framesOf(f, 1, paPlayPrebuf))
		out := make([]int16, f)
		st.callback(frameOf(f, 40), out)
		got := make([]int16, f)
		if !slices.Equal(out, frameOf(f, 1)) || st.capture.read(got) != f || !slices.Equal(got, frameOf(f, 40)) {
			t.Errorf("duplex callback played %v and captured %v, want %v and %v", out, got, frameOf(f, 1), frameOf(f, 40))
		}
	})
}

// newTestPAStream returns a stream at rate in frames of frame samples on a C state at devRate,
// as Open makes it but without a device: tests run the callback themselves.
func newTestPAStream(t *testing.T, rate, frame, devRate int) *paStream {
	t.Helper()
	s := newPAStream("test", rate, frame, true, true, nil)
	if err := s.setDeviceRate(devRate); err != nil {
		t.Fatal(err)
	}
	s.use(&cStream{st: newTestState(t, s.devFrame)}, nil)
	return s
}

// TestReadTrimsStandingCapture: capture that stood two frames beyond what each Read took for a
// whole window (more than half a frame and a callback period) is cut to half a frame, once; the
// Reads after it find enough and return the newest audio.
func TestReadTrimsStandingCapture(t *testing.T) {
	const frame = 160
	s := newTestPAStream(t, 8000, frame, 8000)
	cb := func(v int16) { s.st.callback(frameOf(frame, v), nil) }
	cb(1) // two frames ahead of the Reads from the start
	cb(2)
	got := make([]int16, frame)
	v := int16(3)
	for i := range paTrimWindow {
		cb(v)
		v++
		if err := s.Read(got); err != nil {
			t.Fatal(err)
		}
		if i < paTrimWindow-1 && !slices.Equal(got, frameOf(frame, int16(i+1))) {
			t.Fatalf("read %d got %v..., want frame %d", i, got[:4], i+1)
		}
	}
	if got, want := s.inStanding.Load(), uint64(2*frame-frame/2); got != want {
		t.Fatalf("trimmed %d samples of capture after a window two frames ahead, want %d", got, want)
	}
	// The window's last Read took frame paTrimWindow, then frame paTrimWindow+1 and half of
	// paTrimWindow+2 were dropped.
	cb(v)
	if err := s.Read(got); err != nil {
		t.Fatal(err)
	}
	w := int16(paTrimWindow + 2)
	if want := append(frameOf(frame/2, w), frameOf(frame/2, w+1)...); !slices.Equal(got, want) {
		t.Errorf("after the trim read %v...%v, want the second half of frame %d, then frame %d", got[:2], got[frame-2:], w, w+1)
	}
	for range 2 * paTrimWindow {
		cb(v)
		if err := s.Read(got); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.inStanding.Load(); got != 2*frame-frame/2 {
		t.Errorf("trimmed %d samples in total, want still %d", got, 2*frame-frame/2)
	}
	if m := s.inMissing.Load(); m != 0 {
		t.Errorf("%d Reads found too little captured, want 0", m)
	}
}

// TestReadKeepsLateCapture: callbacks come in pairs (as on a loaded machine), and one pair comes
// a Read late. That Read is short (silence); the late audio is kept, nothing is lost or
// reordered, and with the frame of margin it leaves, no later Read is short however the pairs
// fall against the Reads.
func TestReadKeepsLateCapture(t *testing.T) {
	const frame = 160
	s := newTestPAStream(t, 8000, frame, 8000)
	got := make([]int16, frame)
	next := int16(1) // the next frame a callback delivers
	pair := func() {
		for range 2 {
			s.st.callback(frameOf(frame, next), nil)
			next++
		}
	}
	var read []int16 // first sample of every non-silent Read
	rd := func() {
		t.Helper()
		if err := s.Read(got); err != nil {
			t.Fatal(err)
		}
		if got[0] != 0 {
			read = append(read, got[0])
		}
	}
	pair()
	for round := range 60 {
		rd()
		if round == 20 { // this pair is a Read late
			rd()
			rd()
			pair()
			continue
		}
		if round%7 == 3 { // the pair lands before the second Read of the round, not after
			pair()
			rd()
			continue
		}
		rd()
		pair()
	}
	if m := s.inMissing.Load(); m != 1 {
		t.Errorf("%d short Reads, want 1 (the late pair's)", m)
	}
	for i, v := range read {
		if v != int16(i+1) {
			t.Fatalf("Reads returned frames %v, want every frame from 1 on, in order, none dropped", read)
		}
	}
	if len(read) < 110 {
		t.Errorf("read %d frames, want about 120", len(read))
	}
}

// Read and Write must not allocate and must make no cgo call: the media loop calls them every
// 20 ms, and a cgo call would wake the runtime's sysmon thread each time.
func TestPortAudioRingNoAllocs(t *testing.T) {
	for _, devRate := range []int{8000, 48000} { // without and with resampling
		s := newTestPAStream(t, 8000, 160, devRate)
		in, out, frame := make([]int16, s.devFrame), make([]int16, s.devFrame), make([]int16, 160)
		rw := func() {
			if err := s.Write(frame); err != nil {
				t.Fatal(err)
			}
			if err := s.Read(frame); err != nil {
				t.Fatal(err)
			}
		}
		if allocs := testing.AllocsPerRun(200, func() {
			s.st.callback(in, out)
			rw()
		}); allocs != 0 {
			t.Errorf("device at %d Hz: got %.1f allocations per frame with the callback, want 0", devRate, allocs)
		}
		if allocs := testing.AllocsPerRun(200, rw); allocs != 0 {
			t.Errorf("device at %d Hz: got %.1f allocations per Read and Write, want 0", devRate, allocs)
		}
		calls := runtime.NumCgoCall()
		for range 100 {
			rw()
		}
		if n := runtime.NumCgoCall() - calls; n != 0 {
			t.Errorf("device at %d Hz: got %d cgo calls in 100 Reads and Writes, want 0", devRate, n)
		}
	}
}

// threadSwitches returns the context switches (voluntary and not) of this process's threads
// whose IDs are in tids, or, with tids nil, the IDs of all its threads now.
func threadSwitches(t *testing.T, tids map[string]bool) (int64, map[string]bool) {
	t.Helper()
	dirs, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skipf("no per-thread counters: %v", err)
	}
	var sum int64
	now := map[string]bool{}
	for _, d := range dirs {
		now[d.Name()] = true
		if tids == nil || !tids[d.Name()] {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc/self/task", d.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches" {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				sum += n
			}
		}
	}
	return sum, now
}

// TestPortAudioCStream runs real streams on a private PipeWire: no Go code runs per callback, and
// Close frees the C state safely.
func TestPortAudioCStream(t *testing.T) {
	startPipeWire(t)
	t.Run("NoGoPerCallback", testNoGoPerCallback)
	t.Run("CloseWaitsForReads", testCloseWaitsForReads)
}

// testNoGoPerCallback proves that no Go code runs per callback: while a real duplex stream calls
// back 200 times a second and the test only sleeps, the threads the Go runtime had before the
// stream opened (the PortAudio and sound-server threads, created by Open, are not counted)
// switch less than once per callback.
//
// A callback that runs Go (as this package's did, and the binding's does) fails it: each return
// from Go to C on PortAudio's thread goes through the runtime's system-call entry, which wakes
// the sysmon thread when it sleeps (every P idle, as here), and sysmon sleeps again, two
// switches or more per callback. With this package's old Go callback this test counted 439-788
// switches for 200 callbacks; with the C callback it counts the runtime's own background, 5-80
// (the most with both CPUs busy with other work).
func testNoGoPerCallback(t *testing.T) {
	_, goThreads := threadSwitches(t, nil)
	d, err := New("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.Open(8000, 40) // 5 ms frames: more callbacks, a clearer difference
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*paStream)
	time.Sleep(300 * time.Millisecond) // past the start
	sw0, _ := threadSwitches(t, goThreads)
	cb0 := atomic.LoadUint64(s.st.callbacks)
	time.Sleep(time.Second)
	sw1, _ := threadSwitches(t, goThreads)
	cb1 := atomic.LoadUint64(s.st.callbacks)
	callbacks, switches := cb1-cb0, sw1-sw0
	t.Logf("in 1 s: %d callbacks, %d context switches on the %d threads that were there before the stream",
		callbacks, switches, len(goThreads))
	if callbacks < 100 {
		t.Fatalf("got %d callbacks in 1 s, want about 200", callbacks)
	}
	if switches >= int64(callbacks) {
		t.Errorf("got %d context switches on Go's threads for %d callbacks, want fewer than one per callback: Go code runs per callback",
			switches, callbacks)
	}
}

// testCloseWaitsForReads: Close frees the C state only once no Read or Write is in progress, and
// those that come after find the stream closed and leave the freed state alone.
func testCloseWaitsForReads(t *testing.T) {
	d, err := New("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*paStream)
	s.busy.Add(1) // what a Read in progress holds
	closed := make(chan error)
	go func() { closed <- st.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a Read was in progress", err)
	case <-time.After(200 * time.Millisecond):
	}
	s.busy.Add(-1)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	// free zeroed the state: a Read or Write that used it would panic.
	frame := make([]int16, 160)
	for name, op := range map[string]func([]int16) error{"Read": st.Read, "Write": st.Write} {
		if err := op(frame); err == nil || !strings.Contains(err.Error(), "stream is closed") {
			t.Errorf("%s after Close: got %v, want the stream is closed", name, err)
		}
	}
}
