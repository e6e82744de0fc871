package media

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
)

// SoundCard is the backend behind the "default" and "portaudio:NAME" device specs: it makes
// Devices on the machine's sound cards. media has no sound card driver of its own; the binary's
// main registers one (trayphone's is media/portaudio) with UseSoundCard, so only main depends on
// the native audio library.
type SoundCard interface {
	// Device returns a device on the named input and output sound devices ("" is the system
	// default). Only the sides asked for are used: both as one duplex stream, or the input or
	// the output alone. Nothing is opened before the device's Open.
	Device(in, out string, useIn, useOut bool, log *slog.Logger) (SoundCardDevice, error)
}

// SoundCardDevice is a Device on a sound card, as a SoundCard makes them. Tones, ringing and
// echo cancelling apply to such devices only (SoundCardOutput, WithSoundCardProcessing).
type SoundCardDevice interface {
	Device
	// SoundCardSides reports which sides it uses: the microphone, the speaker or both.
	SoundCardSides() (in, out bool)
}

// soundCard holds the registered SoundCard; nil until UseSoundCard.
var soundCard atomic.Pointer[SoundCard]

// UseSoundCard makes NewDevice build sound-card specs on sc (nil: none, the default). main
// calls it once before building devices; it is safe to call at any time, and devices already
// built keep the backend they were built on.
func UseSoundCard(sc SoundCard) {
	if sc == nil {
		soundCard.Store(nil)
		return
	}
	soundCard.Store(&sc)
}

// errNoSoundCard is NewDevice's answer to a sound-card spec when no SoundCard is registered.
var errNoSoundCard = errors.New("this program has no sound card support: use a .wav file or null as the audio device")

// newSoundCard builds the sound-card side(s) of a spec on the registered SoundCard.
func newSoundCard(in, out string, useIn, useOut bool, log *slog.Logger) (Device, error) {
	sc := soundCard.Load()
	if sc == nil {
		return nil, errNoSoundCard
	}
	d, err := (*sc).Device(in, out, useIn, useOut, log)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// NewDevice builds the Device named by an input and an output spec. Each spec is one of:
//
//   - "" or "default": the system's default sound device, through the SoundCard registered
//     with UseSoundCard;
//   - "portaudio:NAME": the sound device NAME (exact, or the one whose name contains it);
//   - "null": silence in, output discarded;
//   - a path ending in .wav: an input file that must exist and be a readable WAV file, or an
//     output file whose directory must exist.
//
// Without a registered SoundCard the sound-card specs fail. Sound cards are not touched here:
// they are opened only inside Open, so one is held only during calls. The two sides open independently.
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
	case inKind == specSoundCard && outKind == specSoundCard:
		// One duplex stream, as sound cards prefer.
		d, err := newSoundCard(inArg, outArg, true, true, log)
		if err != nil {
			return nil, fmt.Errorf("audio device: %w", err)
		}
		return d, nil
	case inKind == specNull && outKind == specNull:
		return NewNull(), nil
	case inKind != specSoundCard && outKind != specSoundCard:
		f, err := NewFile(inArg, outArg)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	var inDev, outDev Device
	if inKind == specSoundCard {
		d, err := newSoundCard(inArg, "", true, false, log)
		if err != nil {
			return nil, fmt.Errorf("audio input: %w", err)
		}
		inDev = d
		if outDev, err = NewFile("", outArg); err != nil {
			return nil, err
		}
	} else {
		d, err := newSoundCard("", outArg, false, true, log)
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
	specSoundCard
	specNull
	specFile
)

// parseSpec classifies one side's spec. For files and null the returned argument is what
// NewFile takes ("" for null).
func parseSpec(spec string) (specKind, string, error) {
	switch {
	case spec == "" || spec == "default":
		return specSoundCard, "", nil
	case strings.HasPrefix(spec, "portaudio:"):
		name := strings.TrimPrefix(spec, "portaudio:")
		if name == "default" {
			name = ""
		}
		return specSoundCard, name, nil
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
