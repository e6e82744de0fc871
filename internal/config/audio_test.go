package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadString(t *testing.T, text string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, LoadOptions{})
}

func TestAudioProcessingAndTones(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		text          string
		echo, ns, agc bool
		region        string
		err           string
	}{
		{name: "defaults: processing on", text: "", echo: true, ns: true},
		{name: "turned off", text: "[audio]\necho_cancel = false\nnoise_suppression = false\nagc = true\n", agc: true},
		{name: "region", text: "[audio]\ntone_region = \"UK\"\n", echo: true, ns: true, region: "uk"},
		{name: "unknown region", text: "[audio]\ntone_region = \"mars\"\n",
			err: `config.toml:2: audio.tone_region: unknown tone region "mars" (supported: us, uk, eu, jp, au, or leave it out to follow the locale)`},
		{name: "ringtone not wav", text: "[audio]\n\nringtone = \"/tmp/ring.mp3\"\n",
			err: `config.toml:3: audio.ringtone: "/tmp/ring.mp3" is not a .wav file`},
		{name: "bool type", text: "[audio]\necho_cancel = \"yes\"\n", err: "audio.echo_cancel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadString(t, tt.text)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := c.Audio
			if a.EchoCancel != tt.echo || a.NoiseSuppression != tt.ns || a.AGC != tt.agc || a.ToneRegion != tt.region {
				t.Errorf("got echo %v ns %v agc %v region %q, want %v %v %v %q", a.EchoCancel, a.NoiseSuppression, a.AGC, a.ToneRegion, tt.echo, tt.ns, tt.agc, tt.region)
			}
		})
	}
}

func TestAudioVAD(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		text string
		want bool
	}{{"", true}, {"[audio]\nvad = true\n", true}, {"[audio]\nvad = false\n", false}} {
		c, err := loadString(t, tt.text)
		if err != nil {
			t.Fatal(err)
		}
		if c.Audio.VAD != tt.want {
			t.Errorf("%q: vad %v, want %v", tt.text, c.Audio.VAD, tt.want)
		}
	}
	if _, err := loadString(t, "[audio]\nvad = 1\n"); err == nil || !strings.Contains(err.Error(), "audio.vad") {
		t.Errorf("vad = 1: got %v, want an error naming audio.vad", err)
	}
}

func TestAudioRealtime(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		text   string
		rt     bool
		steady bool
	}{
		{"", true, true},
		{"[audio]\nvad = false\n", true, true},
		{"[audio]\nrealtime = false\n", false, true},
		{"[audio]\nsteady_send = false\n", true, false},
	} {
		c, err := loadString(t, tt.text)
		if err != nil {
			t.Fatal(err)
		}
		if c.Audio.Realtime != tt.rt || c.Audio.SteadySend != tt.steady {
			t.Errorf("%q: realtime %v steady_send %v, want %v %v", tt.text, c.Audio.Realtime, c.Audio.SteadySend, tt.rt, tt.steady)
		}
	}
	for _, key := range []string{"realtime", "steady_send"} {
		if _, err := loadString(t, "[audio]\n"+key+" = \"yes\"\n"); err == nil || !strings.Contains(err.Error(), "audio."+key) {
			t.Errorf("%s = \"yes\": got %v, want an error naming audio.%s", key, err, key)
		}
	}
}
