package callmgr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"trayphone/internal/phone"
	"trayphone/media"
)

// Voice apps ("trayphone play", "record-far", "say"; issue 16 item 4) act on a call's audio
// through a voiceTap, which sits between the call's media session and its stream (c.sw: the
// user's device, a conference port, or the answering machine). What a voice app plays replaces
// the microphone on the way to the far end for as long as it plays; what the far end sends,
// decoded, is copied to a recording on its way to the speaker. Sources and recordings are
// swapped in through atomics: the session's goroutine never takes a lock or waits on the disk.

// recordQueue is how many 20 ms frames a far-end recording may have waiting for its writer
// goroutine (2.5 s) before frames are dropped (counted, never blocking the session).
const recordQueue = 128

// voiceTap is a call's stream with a voice app's sound and recording in it.
type voiceTap struct {
	media.Stream // c.sw
	play         atomic.Pointer[voicePlay]
	rec          atomic.Pointer[farRecording]
	scratch      []int16 // Read's frame of the played sound; only the session's goroutine uses it
}

func newVoiceTap(st media.Stream, frame int) *voiceTap {
	return &voiceTap{Stream: st, scratch: make([]int16, frame)}
}

// Read reads the microphone (or whatever c.sw plays) and, while a sound plays, replaces it with
// the sound's next frame.
func (t *voiceTap) Read(p []int16) error {
	err := t.Stream.Read(p)
	pl := t.play.Load()
	if pl == nil || len(p) > len(t.scratch) {
		return err
	}
	b := t.scratch[:len(p)]
	if !pl.src.Fill(b) {
		t.play.CompareAndSwap(pl, nil)
		pl.finish(nil)
		return err
	}
	copy(p, b)
	return err
}

// Write copies p to the far-end recording, if any, and hands it on to the speaker.
func (t *voiceTap) Write(p []int16) error {
	if r := t.rec.Load(); r != nil {
		r.put(p)
	}
	return t.Stream.Write(p)
}

// end stops what plays and records on the tap because the call ended (why says how).
func (t *voiceTap) end(why string) {
	if pl := t.play.Swap(nil); pl != nil {
		pl.finish(fmt.Errorf("the call ended while playing (%s)", why))
	}
	if r := t.rec.Swap(nil); r != nil {
		r.stop("the call ended")
	}
}

// voicePlay is one sound playing into a call.
type voicePlay struct {
	src  media.Source
	once sync.Once
	err  error         // why it ended early; nil when it played to the end; set before done closes
	done chan struct{} // closed when it ended
}

func newVoicePlay(src media.Source) *voicePlay {
	return &voicePlay{src: src, done: make(chan struct{})}
}

// finish ends p with err (nil: played to the end). Only the first call counts. It never blocks.
func (p *voicePlay) finish(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

// errPlayStopped ends a sound stopped by "play --stop", a new sound, or the answering machine.
var errPlayStopped = errors.New("stopped before the end")

// pcmSource plays samples once, padding the last frame with silence.
type pcmSource struct {
	pcm []int16
	pos int
}

func (s *pcmSource) Fill(p []int16) bool {
	if s.pos >= len(s.pcm) {
		return false
	}
	n := copy(p, s.pcm[s.pos:])
	clear(p[n:])
	s.pos += n
	return true
}

// farRecording copies the far end's decoded audio to a WAV file on a goroutine of its own.
type farRecording struct {
	w       *media.WAVWriter
	rate    int
	limit   int64 // samples to record, 0 for no limit
	frames  chan []int16
	free    chan []int16
	dropped atomic.Int64
	quit    chan struct{} // closed by stop
	once    sync.Once
	why     string        // why it ended; set before quit closes, or by the writer before done
	done    chan struct{} // closed once the file is complete
	result  RecordResult
}

// RecordResult is what a far-end recording wrote.
type RecordResult struct {
	File    string        `json:"file"`
	Seconds phone.Seconds `json:"seconds"`
	Ended   string        `json:"ended"` // "the time limit", "stopped", "the call ended"
	Dropped int64         `json:"dropped_frames,omitempty"`
	Error   string        `json:"error,omitempty"`
}

func newFarRecording(w *media.WAVWriter, file string, rate, frame int, seconds float64) *farRecording {
	r := &farRecording{w: w, rate: rate, limit: int64(seconds * float64(rate)),
		frames: make(chan []int16, recordQueue), free: make(chan []int16, recordQueue),
		quit: make(chan struct{}), done: make(chan struct{})}
	r.result.File = file
	for range recordQueue {
		r.free <- make([]int16, frame)
	}
	return r
}

// put queues a copy of p for the writer, or counts it dropped when the writer is behind.
// Called on the session's goroutine; never blocks (frames has room for every buffer).
func (r *farRecording) put(p []int16) {
	select {
	case b := <-r.free:
		b = b[:min(len(p), cap(b))]
		copy(b, p)
		r.frames <- b
	default:
		r.dropped.Add(1)
	}
}

// stop ends the recording (why says how); the writer finishes the file. It never blocks.
func (r *farRecording) stop(why string) {
	r.once.Do(func() {
		r.why = why
		close(r.quit)
	})
}

// write runs the recording's writer. It returns (and closes done) when the limit is reached or
// stop was called, after writing what was queued and closing the file; onLimit runs when the
// limit ended it, to take the recording off its tap.
func (r *farRecording) write(onLimit func()) {
	defer close(r.done)
	var n int64
	var werr error
	add := func(b []int16) bool {
		if r.limit > 0 && n+int64(len(b)) >= r.limit {
			b = b[:r.limit-n]
		}
		if werr == nil {
			werr = r.w.Write(b)
		}
		n += int64(len(b))
		r.free <- b[:cap(b)]
		return r.limit > 0 && n >= r.limit
	}
	why := ""
loop:
	for {
		select {
		case b := <-r.frames:
			if add(b) {
				why = "the time limit"
				onLimit()
				break loop
			}
		case <-r.quit:
			for {
				select {
				case b := <-r.frames:
					if add(b) {
						break loop
					}
				default:
					break loop
				}
			}
		}
	}
	if why != "" {
		r.stop(why)
	}
	if err := r.w.Close(); werr == nil {
		werr = err
	}
	r.result.Seconds = phone.Seconds(float64(n) / float64(r.rate))
	r.result.Ended = r.why
	r.result.Dropped = r.dropped.Load()
	if werr != nil {
		r.result.Error = fmt.Sprintf("writing %s failed: %v", r.result.File, werr)
	}
}

// voiceCall finds answered call id ("" = the only answered one) with audio, for a voice app.
func (m *Manager) voiceCall(id string) (*call, error) {
	if id != "" && m.calls[id] == nil {
		for _, h := range m.history {
			if h.ID == id {
				return nil, fmt.Errorf("call %s has ended (%s)", id, h.EndReason)
			}
		}
	}
	c, err := m.pick(id, (*call).answered, "answered")
	if err != nil {
		return nil, err
	}
	if c.tap == nil || c.sess == nil {
		return nil, fmt.Errorf("call %s has no audio yet", c.id)
	}
	return c, nil
}

// PlayRate returns the audio rate of answered call id, the rate a sound for Play must have.
func (m *Manager) PlayRate(ctx context.Context, id string) (callID string, rate int, err error) {
	err = m.do(ctx, func() error {
		c, err := m.voiceCall(id)
		if err != nil {
			return err
		}
		callID, rate = c.id, c.codec.SampleRate
		return nil
	})
	return callID, rate, err
}

// Play plays pcm (mono, at the rate PlayRate gave) to the far end of call id, in place of the
// microphone, replacing a sound that plays already. With loop it plays again and again until
// StopPlay. It returns a channel that yields nil when the sound played to the end, or why it
// ended early: stopped, or the call ended. The caller loads the file: no disk here.
func (m *Manager) Play(ctx context.Context, id string, rate int, pcm []int16, loop bool) (<-chan error, error) {
	if len(pcm) == 0 {
		return nil, errors.New("the sound is empty")
	}
	var pl *voicePlay
	err := m.do(ctx, func() error {
		c, err := m.voiceCall(id)
		if err != nil {
			return err
		}
		if c.codec.SampleRate != rate {
			return fmt.Errorf("call %s changed its audio rate (%d Hz, not %d); play again", c.id, c.codec.SampleRate, rate)
		}
		var src media.Source = &pcmSource{pcm: pcm}
		if loop {
			src = media.NewLoopSource(pcm, 0, rate)
		}
		pl = newVoicePlay(src)
		if old := c.tap.play.Swap(pl); old != nil {
			old.finish(errPlayStopped)
		}
		m.log.Info("voice app plays into the call", "call", c.id, "seconds", float64(len(pcm))/float64(rate), "loop", loop)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(chan error, 1)
	go func() {
		// Ends when the sound does: played out, stopped, or the call ended (voiceTap.end).
		<-pl.done
		out <- pl.err
	}()
	return out, nil
}

// StopPlay stops what plays into call id. It is not an error when nothing plays.
func (m *Manager) StopPlay(ctx context.Context, id string) (stopped bool, err error) {
	err = m.do(ctx, func() error {
		c, err := m.voiceCall(id)
		if err != nil {
			return err
		}
		if pl := c.tap.play.Swap(nil); pl != nil {
			pl.finish(errPlayStopped)
			stopped = true
		}
		return nil
	})
	return stopped, err
}

// RecordFar records what the far end of call id sends, decoded, into the WAV file w (made by
// the caller at the rate PlayRate gave, mono) for seconds (0: until stopped or the call ends).
// It returns when the recording has ended, with what was written.
func (m *Manager) RecordFar(ctx context.Context, id string, w *media.WAVWriter, file string, rate int, seconds float64) (RecordResult, error) {
	// The work may run after do gave up waiting for it (ctx done): abandoned tells it not to
	// start, or tells the caller that it did and must be stopped.
	var (
		mu        sync.Mutex
		abandoned bool
		r         *farRecording
		on        *voiceTap
	)
	err := m.do(ctx, func() error {
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			return ctx.Err()
		}
		c, err := m.voiceCall(id)
		if err != nil {
			return err
		}
		if c.codec.SampleRate != rate {
			return fmt.Errorf("call %s changed its audio rate (%d Hz, not %d); record again", c.id, c.codec.SampleRate, rate)
		}
		if c.tap.rec.Load() != nil {
			return fmt.Errorf("call %s is being recorded already (stop it with: trayphone record-far %s --stop)", c.id, c.id)
		}
		r = newFarRecording(w, file, rate, c.codec.FrameSamples(), seconds)
		tap, rec := c.tap, r
		on = tap
		go rec.write(func() { tap.rec.CompareAndSwap(rec, nil) })
		tap.rec.Store(rec)
		m.log.Info("voice app records the far end", "call", c.id, "seconds", seconds)
		return nil
	})
	mu.Lock()
	abandoned = true
	rec, tap := r, on
	mu.Unlock()
	if err != nil {
		if rec != nil {
			tap.rec.CompareAndSwap(rec, nil)
			rec.stop("stopped")
			<-rec.done // the writer closes w
		} else {
			_ = w.Close()
		}
		return RecordResult{}, err
	}
	select {
	case <-rec.done:
	case <-ctx.Done():
		rec.stop("stopped")
		<-rec.done
	}
	return rec.result, nil
}

// StopRecordFar ends the far-end recording of call id. It is not an error when there is none.
func (m *Manager) StopRecordFar(ctx context.Context, id string) (stopped bool, err error) {
	err = m.do(ctx, func() error {
		c, err := m.voiceCall(id)
		if err != nil {
			return err
		}
		if r := c.tap.rec.Swap(nil); r != nil {
			r.stop("stopped")
			stopped = true
		}
		return nil
	})
	return stopped, err
}

// endVoice ends the voice apps of call c, whose media stops (stopMedia).
func (m *Manager) endVoice(c *call) {
	if c.tap == nil {
		return
	}
	why := c.endReason
	if why == "" {
		why = "hung up"
	}
	c.tap.end(why)
}
