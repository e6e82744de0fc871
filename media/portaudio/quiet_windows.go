//go:build cgo && windows && !noportaudio

package portaudio

// quietAudioLibs has nothing to silence on Windows: PortAudio's WASAPI and WinMM hosts print
// nothing while probing (quiet.c silences ALSA and JACK on Linux).
func quietAudioLibs() {}

// quietedMessages is always 0 on Windows.
func quietedMessages() int64 { return 0 }
