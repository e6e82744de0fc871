package media

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"trayphone/internal/clock"
	"trayphone/media/internal/rt"
)

// Source is audio a Playback plays: Fill writes the next len(p) samples and reports false once
// the source has ended (p is then not played).
type Source interface {
	Fill(p []int16) bool
}

// limited plays a source for a number of samples.
type limited struct {
	src  Source
	left int
}

// Limit returns src cut off after d at rate samples per second.
func Limit(src Source, d time.Duration, rate int) Source {
	return &limited{src: src, left: int(d * time.Duration(rate) / time.Second)}
}

func (l *limited) Fill(p []int16) bool {
	if l.left <= 0 {
		return false
	}
	l.left -= len(p)
	return l.src.Fill(p)
}

// loopSource plays samples over and over with a pause between repeats (a ringtone).
type loopSource struct {
	pcm   []int16
	pause int
	pos   int
}

// NewLoopSource returns a source that plays pcm, then pause of silence, forever.
func NewLoopSource(pcm []int16, pause time.Duration, rate int) Source {
	return &loopSource{pcm: pcm, pause: int(pause * time.Duration(rate) / time.Second)}
}

func (l *loopSource) Fill(p []int16) bool {
	period := len(l.pcm) + l.pause
	if period == 0 {
		clear(p)
		return true
	}
	for i := range p {
		if l.pos < len(l.pcm) {
			p[i] = l.pcm[l.pos]
		} else {
			p[i] = 0
		}
		l.pos = (l.pos + 1) % period
	}
	return true
}

// DecodeWAVMono decodes a WAV file held in memory (such as assets.Ringtone()) into mono samples
// at rate.
func DecodeWAVMono(b []byte, rate int) ([]int16, error) {
	pcm, fileRate, channels, err := parseWAV(b)
	if err != nil {
		return nil, err
	}
	return toMono(pcm, fileRate, channels, rate)
}

// LoadWAVMono reads a WAV file into mono samples at rate.
func LoadWAVMono(path string, rate int) ([]int16, error) { return loadMono(path, rate) }

func toMono(pcm []int16, fileRate, channels, rate int) ([]int16, error) {
	if channels > 1 {
		pcm = Downmix(make([]int16, 0, len(pcm)/channels), pcm, channels)
	}
	if fileRate == rate {
		return pcm, nil
	}
	r, err := NewResampler(fileRate, rate)
	if err != nil {
		return nil, err
	}
	out := r.Process(make([]int16, 0, r.OutLen(len(pcm))+r.taps*2), pcm)
	return r.Process(out, make([]int16, r.taps+1)), nil
}

// Playback is a source playing on a device's speaker on its own goroutine.
type Playback struct {
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	err      error
}

// Play opens dev at rate and plays src on it in 20 ms frames, paced by clk (nil: the real clock),
// until src ends or Stop is called. The device is closed when playing ends.
func Play(dev Device, src Source, rate int, clk clock.Clock) (*Playback, error) {
	if dev == nil || src == nil {
		return nil, errors.New("play: no device or nothing to play")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	frame := rate * FrameDuration / 1000
	st, err := dev.Open(rate, frame)
	if err != nil {
		return nil, fmt.Errorf("play on %q: %w", dev.Name(), err)
	}
	p := &Playback{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(st, src, frame, clk)
	return p, nil
}

// run plays until src ends or Stop; it returns then, after closing the stream.
func (p *Playback) run(st Stream, src Source, frame int, clk clock.Clock) {
	defer close(p.done)
	buf := make([]int16, frame)
	in := make([]int16, frame)
	pc := rt.NewPacer(clk, FrameDuration*time.Millisecond)
	defer pc.Stop()
	for {
		if _, _, ok := pc.Wait(p.stop); !ok {
			break
		}
		if !src.Fill(buf) {
			break
		}
		_ = st.Read(in) // keep a duplex device's capture side drained
		if err := st.Write(buf); err != nil {
			p.err = err
			break
		}
	}
	if err := st.Close(); err != nil && p.err == nil {
		p.err = err
	}
}

// Stop ends the playback and waits until the device is closed. It is safe to call more than once
// and after the source ended.
func (p *Playback) Stop() error {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	return p.err
}

// Done is closed when the playback has ended and its device is closed.
func (p *Playback) Done() <-chan struct{} { return p.done }
