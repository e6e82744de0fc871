package media

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"trayphone/media/internal/rt"
)

// Recorder records both directions of one call into a stereo 16-bit WAV file at the call's
// sample rate: the near end (what the user sends, after mute) on the left channel, the far end
// (what the user hears of the call) on the right. A second of silence on a side is a second in
// which that side sent or played nothing (hold, mute, a stall of this computer), so the file
// lasts as long as the recording ran and the two sides stay aligned.
//
// The session's send goroutine hands it each tick's two frames (Session.SetRecorder); it never
// blocks there: frames go through a bounded queue of preallocated buffers to a writer goroutine
// that owns the file. When the queue is full (the disk cannot keep up) or a write fails (the
// disk is full), the recording stops: the file is closed with what it holds, and onStop hears
// why, once. The call is never held up by it.
type Recorder struct {
	path  string
	frame int // samples per channel per frame
	w     frameWriter

	free  chan []int16  // empty buffers of 2*frame samples
	queue chan recItem  // filled buffers and runs of silence, to the writer
	abort chan struct{} // closed by the first failure seen on the send side
	quit  chan struct{} // closed by Close
	done  chan struct{} // closed when the writer goroutine has finished the file

	stopped   atomic.Bool // no more frames are taken
	quitting  atomic.Bool // Stop was called
	abortOnce sync.Once
	abortErr  error
	quitOnce  sync.Once
	onStop    func(error)
	err       error // the reason the recording stopped, nil when Close ended it; set before done
}

// recItem is one queue entry: an interleaved stereo frame, or silence frames of silence.
type recItem struct {
	buf     []int16
	silence int
}

// frameWriter is where a Recorder's samples go: a *WAVWriter, or a test's writer.
type frameWriter interface {
	Write(p []int16) error
	Close() error
}

// RecordQueue is how much audio a Recorder holds for a disk that is slow to take it before it
// gives up.
const RecordQueue = 3 * time.Second

// ErrRecordBehind is why a recording stops when the disk cannot keep up with the call.
var ErrRecordBehind = fmt.Errorf("the disk could not keep up: the recording fell %s behind the call", RecordQueue)

// NewRecorder creates path (0600) for a stereo recording at rate with frames of frameSamples
// samples per channel and starts its writer goroutine. onStop, if set, runs once when the
// recording stops by itself (not after Stop), with the reason in the user's words, on the
// goroutine that found out (the session's send goroutine or the writer); it must not block.
func NewRecorder(path string, rate, frameSamples int, onStop func(error)) (*Recorder, error) {
	if frameSamples <= 0 {
		return nil, fmt.Errorf("record %s: invalid frame of %d samples", path, frameSamples)
	}
	w, err := NewWAVWriter(path, rate, 2)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return newRecorder(path, w, rate, frameSamples, onStop), nil
}

func newRecorder(path string, w frameWriter, rate, frameSamples int, onStop func(error)) *Recorder {
	n := int(RecordQueue.Seconds()*float64(rate)) / frameSamples
	n = max(n, 4)
	r := &Recorder{
		path:   path,
		frame:  frameSamples,
		w:      w,
		free:   make(chan []int16, n),
		queue:  make(chan recItem, n+1),
		abort:  make(chan struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		onStop: onStop,
	}
	for range n {
		r.free <- make([]int16, 2*frameSamples)
	}
	go r.run()
	return r
}

// Path returns the file being written.
func (r *Recorder) Path() string { return r.path }

// Frame records one tick: near is what the user sent, far what the user heard; nil is silence
// on that side. It copies both and returns at once; it is meant for one goroutine (the send
// goroutine of the session the recorder is attached to).
func (r *Recorder) Frame(near, far []int16) {
	if r.stopped.Load() {
		return
	}
	var b []int16
	select {
	case b = <-r.free:
	default:
		r.fail(ErrRecordBehind)
		return
	}
	for i := range r.frame {
		var n, f int16
		if i < len(near) {
			n = near[i]
		}
		if i < len(far) {
			f = far[i]
		}
		b[2*i], b[2*i+1] = n, f
	}
	r.push(recItem{buf: b})
}

// Silence records frames ticks of silence on both sides (ticks this computer skipped).
func (r *Recorder) Silence(frames int) {
	if frames <= 0 || r.stopped.Load() {
		return
	}
	r.push(recItem{silence: frames})
}

// push queues it without blocking: the queue has room for every buffer plus one run of
// silence, and a second run waiting is folded into nothing but a failure.
func (r *Recorder) push(it recItem) {
	select {
	case r.queue <- it:
	default:
		if it.buf != nil {
			r.free <- it.buf // the buffer came from free, so it has room
		}
		r.fail(ErrRecordBehind)
	}
}

// fail stops the recording with err (once): no more frames are taken, the writer finishes the
// file as soon as its current write returns, and onStop hears why unless Stop came first. It
// never blocks, so a disk that hangs in a write is still reported at once.
func (r *Recorder) fail(err error) {
	r.abortOnce.Do(func() {
		r.stopped.Store(true)
		r.abortErr = err
		close(r.abort)
		if r.onStop != nil && !r.quitting.Load() {
			r.onStop(err)
		}
	})
}

// run is the writer goroutine: it writes what the queue brings until a write fails, the send
// side gives up (abort) or Stop asks it to finish (quit; it then writes what is queued). It
// closes the file and returns then.
func (r *Recorder) run() {
	defer close(r.done)
	var silence []int16
	write := func(it recItem) error {
		if it.buf != nil {
			err := r.w.Write(it.buf)
			r.free <- it.buf
			return err
		}
		if silence == nil {
			silence = make([]int16, 2*r.frame)
		}
		for range it.silence {
			if err := r.w.Write(silence); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
loop:
	for {
		select {
		case it := <-r.queue:
			err = write(it)
		case <-r.abort:
			break loop
		case <-r.quit:
			for err == nil {
				select {
				case it := <-r.queue:
					err = write(it)
				default:
					break loop
				}
			}
		}
		if err != nil {
			break
		}
	}
	if cerr := r.w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.fail(recordError(err))
	}
	select {
	case <-r.abort:
		r.err = r.abortErr
	default:
	}
}

// recordError puts a writer's error in the user's words (the file is named beside it, in the
// event and the log).
func recordError(err error) error {
	if errors.Is(err, ErrRecordBehind) {
		return err
	}
	why, cause := rt.WriteFailure(err)
	if why == "" {
		why = "writing the recording failed"
	}
	return fmt.Errorf("%s (%w)", why, cause)
}

// Stop ends the recording without waiting: no more frames are taken, what is queued is
// written and the file's sizes are completed and it is closed on the writer goroutine (Done). A
// failure after Stop is not reported to onStop. It is safe to call more than once and from any
// goroutine.
func (r *Recorder) Stop() {
	r.quitOnce.Do(func() {
		r.quitting.Store(true)
		r.stopped.Store(true)
		close(r.quit)
	})
}

// Close is Stop, then it waits for the file to be closed and returns why the recording stopped
// by itself, if it did (nil otherwise).
func (r *Recorder) Close() error {
	r.Stop()
	<-r.done
	return r.err
}

// Err returns why the recording stopped by itself, nil if it did not or has not finished; it
// is meaningful once Done is closed.
func (r *Recorder) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Done is closed when the recording has stopped and its file is closed.
func (r *Recorder) Done() <-chan struct{} { return r.done }
