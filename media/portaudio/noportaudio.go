//go:build noportaudio || !cgo || !(linux || windows)

// Package portaudio is trayphone's sound card driver. This build has none: the driver needs cgo
// and Linux (it opens ALSA PCMs and the PulseAudio/PipeWire server), and the build tag
// noportaudio leaves it out on purpose. Every entry point fails with a plain message saying
// which, and only WAV files and null can be used as audio devices.
package portaudio

import (
	"errors"
	"log/slog"
	"runtime"

	"trayphone/media"
)

// errNoPortAudio is returned by every entry point in a build without PortAudio.
var errNoPortAudio = errors.New("this trayphone was built without PortAudio (" + whyNoPortAudio() + "): use a .wav file or null as the audio device")

// whyNoPortAudio says why this build has no driver.
func whyNoPortAudio() string {
	switch {
	case !cgoEnabled:
		return "built without cgo"
	case runtime.GOOS != "linux" && runtime.GOOS != "windows":
		return "the driver is written for Linux and Windows, and this build is for " + runtime.GOOS
	}
	return "build tag noportaudio"
}

// Device is unavailable in this build; see errNoPortAudio.
type Device struct{}

// New fails: this build has no PortAudio.
func New(in, out string, log *slog.Logger) (*Device, error) { return nil, errNoPortAudio }

func newDevice(inName, outName string, in, out bool, log *slog.Logger) (*Device, error) {
	return nil, errNoPortAudio
}

// Name returns "portaudio".
func (*Device) Name() string { return "portaudio" }

// Open fails: this build has no PortAudio.
func (*Device) Open(rate, frameSamples int) (media.Stream, error) { return nil, errNoPortAudio }

// SoundCardSides reports no sides: there is no sound card.
func (*Device) SoundCardSides() (in, out bool) { return false, false }

// ListDevices fails: this build has no PortAudio.
func ListDevices() ([]DeviceInfo, error) { return nil, errNoPortAudio }
