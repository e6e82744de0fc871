package media

import (
	"fmt"
	"sync"
	"time"
)

// ProcessingOptions says how WithProcessing cleans the microphone.
type ProcessingOptions struct {
	// EchoCancel removes what the speaker played from what the microphone hears (speexdsp MDF
	// acoustic echo canceller, with residual echo suppression).
	EchoCancel bool
	// NoiseSuppression lowers steady background noise (speexdsp preprocessor).
	NoiseSuppression bool
	// AGC evens out the microphone level (speexdsp preprocessor).
	AGC bool
	// EchoTail is the longest echo path the canceller models, device latency included; 0 means
	// 200 ms.
	EchoTail time.Duration
}

// DefaultProcessing is what trayphone does unless the config turns it off.
var DefaultProcessing = ProcessingOptions{EchoCancel: true, NoiseSuppression: true}

// WithProcessing returns dev with echo cancellation, noise suppression and AGC applied as opts
// says: the far-end reference is what is written to the speaker, the near end what is read from
// the microphone. With everything off it returns dev itself.
func WithProcessing(dev Device, opts ProcessingOptions) Device {
	if !opts.EchoCancel && !opts.NoiseSuppression && !opts.AGC {
		return dev
	}
	return &processed{dev: dev, opts: opts}
}

type processed struct {
	dev  Device
	opts ProcessingOptions
}

func (p *processed) Name() string { return p.dev.Name() }

// Unwrap returns the device under the processing.
func (p *processed) Unwrap() Device { return p.dev }

func (p *processed) Open(rate, frameSamples int) (Stream, error) {
	tail := p.opts.EchoTail
	if tail <= 0 {
		tail = 200 * time.Millisecond
	}
	c := speexConfig{rate: rate, frame: frameSamples, denoise: p.opts.NoiseSuppression, noiseDB: -25,
		agc: p.opts.AGC, residualEcho: true}
	if p.opts.EchoCancel {
		c.echoTail = int(tail * time.Duration(rate) / time.Second)
	}
	dsp, err := newSpeexDSP(c)
	if err != nil {
		return nil, fmt.Errorf("audio processing for %q: %w", p.dev.Name(), err)
	}
	in, err := p.dev.Open(rate, frameSamples)
	if err != nil {
		dsp.close()
		return nil, err
	}
	gaps, _ := in.(GapCounter)
	return &processedStream{in: in, gaps: gaps, dsp: dsp, ref: make([]int16, frameSamples),
		scratch: make([]int16, frameSamples)}, nil
}

// GapCounter is a Stream that counts the Reads it could fill only with silence because the
// device's audio had not come (a sound card's callback running late). Processing must not treat
// such a frame as the microphone: the echo canceller would subtract its estimate of the echo
// from nothing and send that to the far end (20 ms of the far end's own voice).
type GapCounter interface {
	ReadGaps() uint64
}

// processedStream is a Stream whose captured frames go through a speexDSP. Read and Write
// allocate nothing.
type processedStream struct {
	in   Stream
	gaps GapCounter // in, if it counts gaps; else nil

	mu      sync.Mutex // guards the fields below: Read and Write may come from different goroutines
	dsp     *speexDSP
	ref     []int16 // the last frame written: the echo reference
	scratch []int16
}

func (s *processedStream) Read(p []int16) error {
	var gaps uint64
	if s.gaps != nil {
		gaps = s.gaps.ReadGaps()
	}
	err := s.in.Read(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dsp == nil || len(p) != len(s.ref) {
		return err
	}
	// A gap is processed all the same, so that the canceller's far-end history stays in step
	// with the speaker, but what it makes of it is not the microphone: silence goes out.
	s.dsp.process(p, s.ref, s.scratch)
	if s.gaps != nil && s.gaps.ReadGaps() != gaps {
		clear(p)
	}
	return err
}

func (s *processedStream) Write(p []int16) error {
	s.mu.Lock()
	if len(p) == len(s.ref) {
		copy(s.ref, p)
	}
	s.mu.Unlock()
	return s.in.Write(p)
}

func (s *processedStream) Close() error {
	s.mu.Lock()
	if s.dsp != nil {
		s.dsp.close()
		s.dsp = nil
	}
	s.mu.Unlock()
	return s.in.Close()
}

// WithSoundCardProcessing is WithProcessing for a device whose microphone is a sound card (a
// SoundCardDevice): a WAV file or null input has no room, no echo and no background noise to
// remove, so such a device is returned as it is.
func WithSoundCardProcessing(dev Device, opts ProcessingOptions) Device {
	if !soundCardInput(dev) {
		return dev
	}
	return WithProcessing(dev, opts)
}
