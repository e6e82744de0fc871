package portaudio

import (
	"log/slog"

	"trayphone/media"
)

// AudioDebugEnv, set to 1, keeps ALSA's and JACK's own messages on stderr (to see why a device
// does not open); otherwise they are silenced before PortAudio is first initialized.
const AudioDebugEnv = "TRAYPHONE_AUDIO_DEBUG"

// SoundCard is the media.SoundCard that makes PortAudio Devices: main registers it with
// media.UseSoundCard, and the "default" and "portaudio:NAME" device specs then open sound cards.
type SoundCard struct{}

// Device returns a Device on the named input and output devices ("" is the system default),
// using only the sides asked for.
func (SoundCard) Device(in, out string, useIn, useOut bool, log *slog.Logger) (media.SoundCardDevice, error) {
	d, err := newDevice(in, out, useIn, useOut, log)
	if err != nil {
		return nil, err
	}
	return d, nil
}

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
	// Server reports a sink (output) or source (input) of the sound server (PipeWire or
	// PulseAudio) rather than a device PortAudio lists itself; Default then means the
	// server's default sink or source.
	Server bool
	// Description is the sound server's human-readable name for it ("" for PortAudio's own
	// devices). "portaudio:" followed by a unique part of it selects it too.
	Description string
	// Monitor reports a source that captures what a sink plays.
	Monitor bool
}
