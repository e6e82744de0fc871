package media

import (
	"math"
	"sync/atomic"
)

// Overlay lays a sound (the call-waiting tone) over the audio a call plays to the user: it is
// added on the way to the speaker, after the far end's audio was decoded, and never to what the
// microphone captures, so the far end does not hear it. The owner starts and stops the sound
// from any goroutine; the streams Wrap returns add it in Write without locks or allocation.
type Overlay struct {
	rate, frame int
	cur         atomic.Pointer[overlaySound]
}

// overlaySound is one sound an Overlay plays. Only the goroutine writing the wrapped stream
// touches src, buf and ended.
type overlaySound struct {
	src   Source
	gain  int32 // Q15
	buf   []int16
	ended bool
}

// NewOverlay returns an overlay for streams of rate samples per second in frames of
// frameSamples samples. Nothing plays until Play.
func NewOverlay(rate, frameSamples int) *Overlay {
	return &Overlay{rate: rate, frame: frameSamples}
}

// Rate is the sample rate a Source given to Play must produce.
func (o *Overlay) Rate() int { return o.rate }

// Play lays src over the stream's audio at gain (0-1, a fraction of src's level), replacing what
// played before. src is filled only on the goroutine that writes the wrapped stream.
func (o *Overlay) Play(src Source, gain float64) {
	if src == nil {
		o.Stop()
		return
	}
	g := int32(math.Round(math.Max(0, math.Min(gain, 1)) * 32768))
	o.cur.Store(&overlaySound{src: src, gain: g, buf: make([]int16, o.frame)})
}

// Stop ends what plays; the next frame written is the call's audio alone.
func (o *Overlay) Stop() { o.cur.Store(nil) }

// Playing reports whether a sound is laid over the audio (it may have ended by itself).
func (o *Overlay) Playing() bool { return o.cur.Load() != nil }

// Wrap returns st with o's sound added to every frame written to it. The streams of one Overlay
// must not be written concurrently (one call's speaker is written by one goroutine at a time).
// Closing the returned stream closes st.
func (o *Overlay) Wrap(st Stream) Stream {
	return &overlayStream{Stream: st, o: o, mix: make([]int16, o.frame)}
}

type overlayStream struct {
	Stream
	o   *Overlay
	mix []int16 // the frame with the sound added; written only by Write
}

// Write adds the overlay's sound, if any, to p (left unchanged) and writes the sum.
func (s *overlayStream) Write(p []int16) error {
	snd := s.o.cur.Load()
	if snd == nil || snd.ended || len(p) > len(s.mix) {
		return s.Stream.Write(p)
	}
	out := s.mix[:len(p)]
	snd.add(out, p)
	return s.Stream.Write(out)
}

// add writes p plus the next len(p) samples of the sound into out.
func (snd *overlaySound) add(out, p []int16) {
	for done := 0; done < len(p); {
		n := min(len(p)-done, len(snd.buf))
		b := snd.buf[:n]
		if snd.ended || !snd.src.Fill(b) {
			snd.ended = true
			copy(out[done:], p[done:])
			return
		}
		for i, v := range b {
			out[done+i] = saturate(int32(p[done+i]) + (int32(v)*snd.gain)>>15)
		}
		done += n
	}
}
