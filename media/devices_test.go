package media_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

func TestFileDeviceResamplesStereoToMono(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	// 1 s of 440 Hz stereo at 48 kHz: left and right identical.
	mono := audiotest.Tone(440, 0.5, 48000, 48000)
	stereo := make([]int16, 0, 2*len(mono))
	for _, s := range mono {
		stereo = append(stereo, s, s)
	}
	w, err := media.NewWAVWriter(in, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(stereo); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dev, err := media.NewFile(in, "")
	if err != nil {
		t.Fatal(err)
	}
	for open := range 2 { // each Open starts from the beginning
		s, err := dev.Open(8000, 160)
		if err != nil {
			t.Fatal(err)
		}
		var got []int16
		frame := make([]int16, 160)
		for range 75 { // 1.5 s: the file, then silence
			if err := s.Read(frame); err != nil {
				t.Fatalf("Read: %v", err)
			}
			got = append(got, frame...)
		}
		s.Close()
		c, err := audiotest.MeasureCall(got, 8000, 440)
		if err != nil {
			t.Fatalf("open %d: %v", open, err)
		}
		if math.Abs(c.FreqHz-440) > 0.1 || math.Abs(c.ToneDBFS-(-9.03)) > 0.1 || c.SINADdB < 60 || c.Clicks > 0 {
			t.Errorf("open %d: got %v, want the file's 440 Hz at -9 dBFS, SINAD >= 60 dB, no clicks", open, c)
		}
		if tail := got[8100:]; slices.ContainsFunc(tail, func(s int16) bool { return s != 0 }) {
			t.Errorf("open %d: got sound after the end of the file, want silence", open)
		}
	}
}

func TestFileDeviceRecordsWhatWasWritten(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out.wav")
	dev, err := media.NewFile("", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{10, 3} { // a second Open rewrites the file
		s, err := dev.Open(16000, 320)
		if err != nil {
			t.Fatal(err)
		}
		var want []int16
		for i := range n {
			frame := audiotest.Tone(float64(300+i*10), 0.3, 16000, 320)
			want = append(want, frame...)
			if err := s.Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		silence := make([]int16, 320)
		if err := s.Read(silence); err != nil || slices.ContainsFunc(silence, func(s int16) bool { return s != 0 }) {
			t.Errorf("input of an output-only file device: got err %v or sound, want silence", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got, rate, err := audiotest.ReadWAVMono(out)
		if err != nil {
			t.Fatal(err)
		}
		if rate != 16000 || !slices.Equal(got, want) {
			t.Errorf("got %d samples at %d Hz, want the %d written at 16000", len(got), rate, len(want))
		}
	}
}

func TestEchoDelay(t *testing.T) {
	t.Parallel()
	dev := media.NewEcho(200 * time.Millisecond)
	s, err := dev.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	frame := make([]int16, 160)
	for i := range 30 {
		if err := s.Read(frame); err != nil {
			t.Fatal(err)
		}
		// Frame i was written 10 frames (200 ms) ago, marked with its number.
		want := int16(0)
		if i >= 10 {
			want = int16(i - 10 + 1)
		}
		if frame[0] != want || frame[159] != want {
			t.Fatalf("read %d: got frame marked %d, want %d", i, frame[0], want)
		}
		for j := range frame {
			frame[j] = int16(i + 1)
		}
		if err := s.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNullDevice(t *testing.T) {
	t.Parallel()
	s, err := media.NewNull().Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	frame := []int16{1, 2, 3}
	if err := s.Read(frame); err != nil || !slices.Equal(frame, []int16{0, 0, 0}) {
		t.Errorf("got %v, %v, want silence", frame, err)
	}
	if err := s.Write(frame); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// TestNewDeviceSpecs builds devices from specs, the sound-card ones on a fake SoundCard. It
// registers one, so it does not run in parallel.
func TestNewDeviceSpecs(t *testing.T) {
	useFakeSoundCard(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	if err := audiotest.WriteTone(in, 440, 0.5, 8000, 0.5); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.wav")
	tests := []struct {
		in, out  string
		wantName string
		wantErr  string
	}{
		{in: "null", out: "null", wantName: "null"},
		{in: in, out: out, wantName: "file:" + in + " > file:" + out},
		{in: in, out: "null", wantName: "file:" + in + " > null"},
		{in: "null", out: out, wantName: "null > file:" + out},
		{in: "", out: out, wantName: "portaudio:default > file:" + out},
		{in: in, out: "portaudio:Speakers", wantName: "file:" + in + " > portaudio:Speakers"},
		{in: filepath.Join(dir, "missing.wav"), out: "null", wantErr: "missing.wav"},
		{in: "null", out: filepath.Join(dir, "nodir", "out.wav"), wantErr: "nodir"},
		{in: "bogus", out: "null", wantErr: "unknown audio device"},
	}
	for _, tt := range tests {
		d, err := media.NewDevice(tt.in, tt.out, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewDevice(%q, %q): got error %v, want one mentioning %q", tt.in, tt.out, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewDevice(%q, %q): %v", tt.in, tt.out, err)
			continue
		}
		if d.Name() != tt.wantName {
			t.Errorf("NewDevice(%q, %q).Name() = %q, want %q", tt.in, tt.out, d.Name(), tt.wantName)
		}
	}
}

// The two sides of a spec'd device open independently: a file in, a file out.
func TestNewDeviceFileToFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.wav"), filepath.Join(dir, "out.wav")
	if err := audiotest.WriteTone(in, 1000, 0.5, 8000, 0.2); err != nil {
		t.Fatal(err)
	}
	d, err := media.NewDevice(in, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 160)
	for range 10 { // loop the input to the output
		if err := s.Read(frame); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, _, err := audiotest.ReadWAVMono(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := audiotest.ReadWAVMono(in)
	if !slices.Equal(got, want) {
		t.Errorf("got %d samples out, want the %d of the input", len(got), len(want))
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
