package media

// SoundCardOutput reports whether dev's speaker side is a sound card (PortAudio), as opposed to a
// WAV file or null. Tones and ringtones are played only on sound cards unless a device is given
// for them explicitly: a file output is a call's recording.
func SoundCardOutput(dev Device) bool {
	switch d := dev.(type) {
	case *PortAudio:
		return d.hasOutput()
	case *splitDevice:
		return SoundCardOutput(d.out)
	case interface{ Unwrap() Device }:
		return SoundCardOutput(d.Unwrap())
	}
	return false
}
