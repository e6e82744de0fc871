package media

import (
	"fmt"
	"log/slog"
	"strings"
)

// DeviceInfo describes one sound device as ListDevices reports it.
type DeviceInfo struct {
	// Name is what "portaudio:NAME" selects.
	Name string
	// MaxIn and MaxOut are the most input and output channels it has; 0 means it has no
	// such side.
	MaxIn, MaxOut int
	// Default reports whether it is the default input or output device.
	Default bool
	// DefaultRate is its preferred sample rate.
	DefaultRate int
}

// NewDevice builds the Device named by an input and an output spec. Each spec is one of:
//
//   - "" or "default": the system's default sound device, through PortAudio;
//   - "portaudio:NAME": the PortAudio device NAME (exact, or the one whose name contains it);
//   - "null": silence in, output discarded;
//   - a path ending in .wav: an input file that must exist and be a readable WAV file, or an
//     output file whose directory must exist.
//
// Sound cards are not touched here: PortAudio opens them only inside Open, so one is held only
// during calls. The two sides open independently.
func NewDevice(in, out string, log *slog.Logger) (Device, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inKind, inArg, err := parseSpec(in)
	if err != nil {
		return nil, fmt.Errorf("audio input %q: %w", in, err)
	}
	outKind, outArg, err := parseSpec(out)
	if err != nil {
		return nil, fmt.Errorf("audio output %q: %w", out, err)
	}
	switch {
	case inKind == specPortAudio && outKind == specPortAudio:
		// One duplex stream, as sound cards prefer.
		d, err := newPortAudio(inArg, outArg, true, true, log)
		if err != nil {
			return nil, fmt.Errorf("audio device: %w", err)
		}
		return d, nil
	case inKind == specNull && outKind == specNull:
		return NewNull(), nil
	case inKind != specPortAudio && outKind != specPortAudio:
		f, err := NewFile(inArg, outArg)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	var inDev, outDev Device
	if inKind == specPortAudio {
		d, err := newPortAudio(inArg, "", true, false, log)
		if err != nil {
			return nil, fmt.Errorf("audio input: %w", err)
		}
		inDev = d
		if outDev, err = NewFile("", outArg); err != nil {
			return nil, err
		}
	} else {
		d, err := newPortAudio("", outArg, false, true, log)
		if err != nil {
			return nil, fmt.Errorf("audio output: %w", err)
		}
		outDev = d
		if inDev, err = NewFile(inArg, ""); err != nil {
			return nil, err
		}
	}
	return &splitDevice{in: inDev, out: outDev}, nil
}

type specKind int

const (
	specUnknown specKind = iota
	specPortAudio
	specNull
	specFile
)

// parseSpec classifies one side's spec. For files and null the returned argument is what
// NewFile takes ("" for null).
func parseSpec(spec string) (specKind, string, error) {
	switch {
	case spec == "" || spec == "default":
		return specPortAudio, "", nil
	case strings.HasPrefix(spec, "portaudio:"):
		name := strings.TrimPrefix(spec, "portaudio:")
		if name == "default" {
			name = ""
		}
		return specPortAudio, name, nil
	case spec == "null":
		return specNull, "", nil
	case strings.HasSuffix(strings.ToLower(spec), ".wav"):
		return specFile, spec, nil
	}
	return specUnknown, "", fmt.Errorf(`unknown audio device (want "default", "portaudio:NAME", "null" or a .wav file)`)
}

// splitDevice takes its input from one device and sends its output to another.
type splitDevice struct {
	in, out Device
}

// Name describes both sides: "input > output".
func (d *splitDevice) Name() string {
	in := strings.Split(d.in.Name(), " > ")[0]
	outs := strings.Split(d.out.Name(), " > ")
	return in + " > " + outs[len(outs)-1]
}

// Open opens the two sides; if the second fails, the first is closed again.
func (d *splitDevice) Open(rate, frameSamples int) (Stream, error) {
	in, err := d.in.Open(rate, frameSamples)
	if err != nil {
		return nil, err
	}
	out, err := d.out.Open(rate, frameSamples)
	if err != nil {
		in.Close()
		return nil, err
	}
	return &splitStream{in: in, out: out}, nil
}

type splitStream struct {
	in, out Stream
}

func (s *splitStream) Read(p []int16) error  { return s.in.Read(p) }
func (s *splitStream) Write(p []int16) error { return s.out.Write(p) }

func (s *splitStream) Close() error {
	err := s.in.Close()
	if oerr := s.out.Close(); err == nil {
		err = oerr
	}
	return err
}
