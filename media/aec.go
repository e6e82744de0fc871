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
// In a build without a registered Processor (ProcessingMissing says why) it returns dev itself.
func WithProcessing(dev Device, opts ProcessingOptions) Device {
	if !opts.EchoCancel && !opts.NoiseSuppression && !opts.AGC {
		return dev
	}
	processor.RLock()
	newProc := processor.new
	processor.RUnlock()
	if newProc == nil {
		return dev
	}
	return &processed{dev: dev, opts: opts, newProc: newProc}
}

// Processor cleans captured audio for one stream: echo cancellation against what the speaker
// played, noise suppression, AGC. A leaf package wraps a C library in one (media/dsp/speex:
// speexdsp) and registers it (RegisterProcessor), so that media stays pure Go. Its methods must
// not allocate and are not called concurrently.
type Processor interface {
	// Process cleans one captured frame mic in place; ref is the frame most recently sent to the
	// speaker (the echo's source), out a scratch frame. All three are Frame samples long.
	Process(mic, ref, out []int16)
	// Close frees the processor; it is not used again.
	Close()
}

// ProcessorConfig says what a Processor does.
type ProcessorConfig struct {
	Rate, Frame  int  // sample rate and frame size, in samples
	EchoTail     int  // samples of echo the canceller models; 0 turns it off
	Denoise      bool // noise suppression
	NoiseDB      int  // noise attenuation in dB, negative
	AGC          bool
	ResidualEcho bool // let the preprocessor suppress what the canceller left of the echo
}

// processor holds the registered Processor maker, or why there is none in this build.
var processor struct {
	sync.RWMutex
	new     func(ProcessorConfig) (Processor, error)
	missing string
}

// RegisterProcessor makes newProc the maker of WithProcessing's processors (a leaf package calls
// it from init).
func RegisterProcessor(newProc func(ProcessorConfig) (Processor, error)) {
	processor.Lock()
	defer processor.Unlock()
	processor.new = newProc
}

// RegisterProcessorMissing notes why this build has no Processor (a leaf package's stand-in,
// built without the C library it wraps, calls it from init).
func RegisterProcessorMissing(why string) {
	processor.Lock()
	defer processor.Unlock()
	processor.missing = why
}

// ProcessingMissing reports why WithProcessing cannot process in this build: "" when a Processor
// is registered, else the reason a leaf package gave, or a generic one.
func ProcessingMissing() string {
	processor.RLock()
	defer processor.RUnlock()
	switch {
	case processor.new != nil:
		return ""
	case processor.missing != "":
		return processor.missing
	}
	return "this trayphone has no audio processing (no media/dsp package is linked in)"
}

type processed struct {
	dev     Device
	opts    ProcessingOptions
	newProc func(ProcessorConfig) (Processor, error)
}

func (p *processed) Name() string { return p.dev.Name() }

// Unwrap returns the device under the processing.
func (p *processed) Unwrap() Device { return p.dev }

func (p *processed) Open(rate, frameSamples int) (Stream, error) {
	tail := p.opts.EchoTail
	if tail <= 0 {
		tail = 200 * time.Millisecond
	}
	c := ProcessorConfig{Rate: rate, Frame: frameSamples, Denoise: p.opts.NoiseSuppression, NoiseDB: -25,
		AGC: p.opts.AGC, ResidualEcho: true}
	if p.opts.EchoCancel {
		c.EchoTail = int(tail * time.Duration(rate) / time.Second)
	}
	dsp, err := p.newProc(c)
	if err != nil {
		return nil, fmt.Errorf("audio processing for %q: %w", p.dev.Name(), err)
	}
	in, err := p.dev.Open(rate, frameSamples)
	if err != nil {
		dsp.Close()
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

// processedStream is a Stream whose captured frames go through a Processor. Read and Write
// allocate nothing.
type processedStream struct {
	in   Stream
	gaps GapCounter // in, if it counts gaps; else nil

	mu      sync.Mutex // guards the fields below: Read and Write may come from different goroutines
	dsp     Processor
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
	s.dsp.Process(p, s.ref, s.scratch)
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
		s.dsp.Close()
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
