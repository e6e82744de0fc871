package media

import "testing"

// FuzzParseSpec feeds arbitrary audio device specs (from the settings file and the command line)
// to parseSpec: nothing may panic, and an accepted spec is one of the known kinds.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"", "default", "null", "file:in.wav", "file:", "file:a.wav,out.wav", "pulse:Headset",
		"alsa:hw:0,0", "soundcard:\x00", "FILE:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		kind, _, err := parseSpec(spec)
		if err == nil && kind == specUnknown {
			t.Fatalf("parseSpec(%q) accepted with an unknown kind", spec)
		}
	})
}
