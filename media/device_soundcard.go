package media

// SoundCardOutput reports whether dev's speaker side is a sound card (a SoundCardDevice), as
// opposed to a WAV file or null. Tones and ringtones are played only on sound cards unless a
// device is given for them explicitly: a file output is a call's recording.
func SoundCardOutput(dev Device) bool {
	switch d := dev.(type) {
	case SoundCardDevice:
		_, out := d.SoundCardSides()
		return out
	case *splitDevice:
		return SoundCardOutput(d.out)
	case interface{ Unwrap() Device }:
		return SoundCardOutput(d.Unwrap())
	}
	return false
}

// soundCardInput reports whether dev's microphone side is a sound card.
func soundCardInput(dev Device) bool {
	switch d := dev.(type) {
	case SoundCardDevice:
		in, _ := d.SoundCardSides()
		return in
	case *splitDevice:
		return soundCardInput(d.in)
	case interface{ Unwrap() Device }:
		return soundCardInput(d.Unwrap())
	}
	return false
}
