package portaudio

import (
	"path/filepath"
	"strings"
	"testing"

	"trayphone/media"
)

// TestSoundCardSpecs registers SoundCard and builds the phone's device specs on it, without
// opening a sound card: the sides asked for are the sides used, and media sees them as a sound
// card. Not parallel: the registration is process-wide.
func TestSoundCardSpecs(t *testing.T) {
	media.UseSoundCard(SoundCard{})
	t.Cleanup(func() { media.UseSoundCard(nil) })
	out := filepath.Join(t.TempDir(), "out.wav")
	tests := []struct {
		in, out         string
		wantName        string
		wantIn, wantOut bool
	}{
		{in: "default", out: "default", wantName: "portaudio:default", wantIn: true, wantOut: true},
		{in: "", out: "portaudio:pulse", wantName: "portaudio:default > portaudio:pulse", wantIn: true, wantOut: true},
		{in: "portaudio:default", out: out, wantName: "portaudio:default > file:" + out, wantIn: true},
		{in: "null", out: "portaudio:USB Headset", wantName: "null > portaudio:USB Headset", wantOut: true},
	}
	for _, tt := range tests {
		d, err := media.NewDevice(tt.in, tt.out, nil)
		if err != nil {
			if strings.Contains(err.Error(), "noportaudio") {
				t.Skip(err)
			}
			t.Errorf("NewDevice(%q, %q): %v", tt.in, tt.out, err)
			continue
		}
		if d.Name() != tt.wantName {
			t.Errorf("NewDevice(%q, %q).Name() = %q, want %q", tt.in, tt.out, d.Name(), tt.wantName)
		}
		if got := media.SoundCardOutput(d); got != tt.wantOut {
			t.Errorf("SoundCardOutput(%s) = %v, want %v", d.Name(), got, tt.wantOut)
		}
		if got := media.WithSoundCardProcessing(d, media.DefaultProcessing) != d; got != tt.wantIn {
			t.Errorf("WithSoundCardProcessing(%s) processed: %v, want %v", d.Name(), got, tt.wantIn)
		}
	}
}
