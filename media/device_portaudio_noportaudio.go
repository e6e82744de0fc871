//go:build noportaudio

package media

import (
	"errors"
	"log/slog"
)

// errNoPortAudio is returned by every PortAudio entry point in a build without PortAudio.
var errNoPortAudio = errors.New("this trayphone was built without PortAudio (build tag noportaudio): use a .wav file or null as the audio device")

// PortAudio is unavailable in this build; see errNoPortAudio.
type PortAudio struct{}

// NewPortAudio fails: this build has no PortAudio.
func NewPortAudio(in, out string, log *slog.Logger) (*PortAudio, error) { return nil, errNoPortAudio }

func newPortAudio(inName, outName string, in, out bool, log *slog.Logger) (*PortAudio, error) {
	return nil, errNoPortAudio
}

// Name returns "portaudio".
func (*PortAudio) Name() string { return "portaudio" }

// Open fails: this build has no PortAudio.
func (*PortAudio) Open(rate, frameSamples int) (Stream, error) { return nil, errNoPortAudio }

// ListDevices fails: this build has no PortAudio.
func ListDevices() ([]DeviceInfo, error) { return nil, errNoPortAudio }

func (d *PortAudio) hasOutput() bool { return false }
