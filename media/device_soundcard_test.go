package media_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

// fakeSoundCard is a media.SoundCard whose devices are null devices that remember what they
// were asked for.
type fakeSoundCard struct{}

func (fakeSoundCard) Device(in, out string, useIn, useOut bool, _ *slog.Logger) (media.SoundCardDevice, error) {
	return &fakeCard{inName: in, outName: out, in: useIn, out: useOut}, nil
}

type fakeCard struct {
	inName, outName string
	in, out         bool
}

func (d *fakeCard) Name() string {
	name := func(n string) string {
		if n == "" {
			return "portaudio:default"
		}
		return "portaudio:" + n
	}
	switch {
	case !d.out:
		return name(d.inName)
	case !d.in:
		return name(d.outName)
	case d.inName == d.outName:
		return name(d.inName)
	}
	return name(d.inName) + " > " + name(d.outName)
}

func (d *fakeCard) Open(rate, frame int) (media.Stream, error) {
	return media.NewNull().Open(rate, frame)
}
func (d *fakeCard) SoundCardSides() (in, out bool) { return d.in, d.out }

// useFakeSoundCard registers a fakeSoundCard until t ends. Tests calling it must not be
// parallel: the registration is process-wide.
func useFakeSoundCard(t *testing.T) {
	media.UseSoundCard(fakeSoundCard{})
	t.Cleanup(func() { media.UseSoundCard(nil) })
}

// Without a registered SoundCard, sound-card specs fail in plain words and the rest still work.
func TestNewDeviceNoSoundCard(t *testing.T) {
	media.UseSoundCard(nil)
	for _, spec := range [][2]string{{"default", "default"}, {"", "null"}, {"null", "portaudio:USB"}} {
		_, err := media.NewDevice(spec[0], spec[1], nil)
		if err == nil || !strings.Contains(err.Error(), "no sound card support") {
			t.Errorf("NewDevice(%q, %q): got error %v, want one saying there is no sound card support", spec[0], spec[1], err)
		}
	}
	if _, err := media.NewDevice("null", "null", nil); err != nil {
		t.Errorf("NewDevice(null, null): %v", err)
	}
}

// The sound-card sides of a spec reach the SoundCard as asked (one duplex device, or one side
// beside a file), and SoundCardOutput and WithSoundCardProcessing see through the split.
func TestNewDeviceSoundCardSides(t *testing.T) {
	useFakeSoundCard(t)
	wav := filepath.Join(t.TempDir(), "in.wav")
	if err := audiotest.WriteTone(wav, 440, 0.5, 8000, 0.1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.wav")
	tests := []struct {
		in, out           string
		wantName          string
		wantMic, wantSpkr bool
	}{
		{in: "default", out: "default", wantName: "portaudio:default", wantMic: true, wantSpkr: true},
		{in: "portaudio:Mic", out: "portaudio:Speakers", wantName: "portaudio:Mic > portaudio:Speakers", wantMic: true, wantSpkr: true},
		{in: "", out: out, wantName: "portaudio:default > file:" + out, wantMic: true},
		{in: wav, out: "portaudio:Speakers", wantName: "file:" + wav + " > portaudio:Speakers", wantSpkr: true},
		{in: wav, out: out, wantName: "file:" + wav + " > file:" + out},
		{in: "null", out: "null", wantName: "null"},
	}
	for _, tt := range tests {
		d, err := media.NewDevice(tt.in, tt.out, nil)
		if err != nil {
			t.Errorf("NewDevice(%q, %q): %v", tt.in, tt.out, err)
			continue
		}
		if d.Name() != tt.wantName {
			t.Errorf("NewDevice(%q, %q).Name() = %q, want %q", tt.in, tt.out, d.Name(), tt.wantName)
		}
		if got := media.SoundCardOutput(d); got != tt.wantSpkr {
			t.Errorf("SoundCardOutput(%s) = %v, want %v", d.Name(), got, tt.wantSpkr)
		}
		p := media.WithSoundCardProcessing(d, media.DefaultProcessing)
		if got := p != d; got != tt.wantMic {
			t.Errorf("WithSoundCardProcessing(%s) processed: %v, want %v", d.Name(), got, tt.wantMic)
		}
		// A processed device is still a sound-card speaker.
		if got := media.SoundCardOutput(p); got != tt.wantSpkr {
			t.Errorf("SoundCardOutput(processed %s) = %v, want %v", d.Name(), got, tt.wantSpkr)
		}
		st, err := p.Open(8000, 160)
		if err != nil {
			t.Errorf("open %s: %v", d.Name(), err)
			continue
		}
		frame := make([]int16, 160)
		if err := st.Read(frame); err != nil {
			t.Errorf("read %s: %v", d.Name(), err)
		}
		if err := st.Write(frame); err != nil {
			t.Errorf("write %s: %v", d.Name(), err)
		}
		st.Close()
	}
}
