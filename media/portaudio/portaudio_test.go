//go:build cgo && linux && !noportaudio

package portaudio

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/testenv"
	"trayphone/media"
)

// startPipeWire starts a private PipeWire with a null sink and points this process at it.
func startPipeWire(t *testing.T) string { return testenv.StartPipeWire(t) }

// TestPortAudioPipeWire plays a tone through PortAudio into a private PipeWire null sink and
// captures it back from the sink's monitor, at the G.711 and the wideband rates.
func TestPortAudioPipeWire(t *testing.T) {
	dir := startPipeWire(t)

	t.Run("ListDevices", func(t *testing.T) {
		devs, err := ListDevices()
		if err != nil {
			t.Fatal(err)
		}
		var pulse, def bool
		for _, d := range devs {
			t.Logf("device %+v", d)
			if (d.Name == "pulse" || d.Name == "default") && d.MaxIn > 0 && d.MaxOut > 0 {
				pulse = true
			}
			def = def || d.Default
		}
		if !pulse || !def {
			t.Errorf("got devices %+v, want a duplex pulse or default device and a default", devs)
		}
	})

	for _, rate := range []int{8000, 48000} {
		t.Run(fmt.Sprintf("%dHz", rate), func(t *testing.T) {
			loopTone(t, "", rate)
		})
	}
	t.Run("ByName", func(t *testing.T) { loopTone(t, "pulse", 16000) })

	// The way the phone uses it: main registers SoundCard, the "default" spec becomes a duplex
	// PortAudio device, echo cancelling goes on it, and a call plays it through a SwitchStream
	// that hears when the device disappears and moves the call on (callmgr's fallback).
	t.Run("Disappears", func(t *testing.T) {
		media.UseSoundCard(SoundCard{})
		defer media.UseSoundCard(nil)
		dev, err := media.NewDevice("default", "default", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := dev.(*Device); !ok || !media.SoundCardOutput(dev) {
			t.Fatalf("NewDevice(default, default) = %T %q, want a *Device playing on the sound card", dev, dev.Name())
		}
		dev = media.WithSoundCardProcessing(dev, media.DefaultProcessing)
		if _, ok := dev.(*Device); ok {
			t.Fatal("WithSoundCardProcessing left the sound card unprocessed")
		}
		st, err := dev.Open(8000, 160)
		if err != nil {
			t.Fatal(err)
		}
		failed := make(chan error, 1)
		s := media.NewSwitchStream(st, func(err error) { failed <- err }, nil)
		defer s.Close()
		frame := make([]int16, 160)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range 25 {
			<-tick.C
			if err := s.Write(frame); err != nil {
				t.Fatalf("Write before the server went away: %v", err)
			}
			s.Read(frame)
		}
		// Take the sound server away, as a crash or an unplugged card would.
		for _, name := range []string{"pipewire-pulse", "pipewire"} {
			b, err := os.ReadFile(filepath.Join(dir, name+".pid"))
			if err != nil {
				t.Fatal(err)
			}
			exec.Command("kill", "-9", strings.TrimSpace(string(b))).Run()
		}
		deadline := time.Now().Add(10 * time.Second)
		var gone error
		for gone == nil && time.Now().Before(deadline) {
			<-tick.C
			s.Write(frame)
			s.Read(frame)
			select {
			case gone = <-failed:
			default:
			}
		}
		if gone == nil {
			t.Fatal("Read and Write kept succeeding 10 s after the sound server died")
		}
		t.Logf("after the server died: %v", gone)
		if !strings.Contains(gone.Error(), "disappeared") {
			t.Errorf("got %v, want an error saying the device disappeared", gone)
		}
		// The call moves on to another device and goes on without errors.
		next, err := media.NewNull().Open(8000, 160)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Swap(next).Close(); err != nil {
			t.Logf("closing the dead stream: %v", err)
		}
		for range 5 {
			if err := s.Write(frame); err != nil {
				t.Errorf("Write after moving on: %v", err)
			}
			if err := s.Read(frame); err != nil {
				t.Errorf("Read after moving on: %v", err)
			}
		}
	})
}

// loopTone writes 2 s of 1 kHz at -9 dBFS frame by frame on a 20 ms ticker, reads the monitor at
// the same time, and checks the capture.
func loopTone(t *testing.T, name string, rate int) {
	d, err := New(name, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	frameN := rate / 50
	s, err := d.Open(rate, frameN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const frames = 100
	src := audiotest.Tone(1000, 0.5, rate, frames*frameN)
	var got []int16
	frame := make([]int16, frameN)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range frames + 25 { // and 0.5 s more to catch the tail
		<-tick.C
		var out []int16
		if i < frames {
			out = src[i*frameN : (i+1)*frameN]
		} else {
			out = make([]int16, frameN)
		}
		if err := s.Write(out); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if err := s.Read(frame); err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		got = append(got, frame...)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// Measure the captured tone, without its first and last 100 ms (fade in/out of the server).
	first, last := -1, -1
	for i := 0; i+frameN <= len(got); i += frameN {
		if audiotest.RMSdBFS(got[i:i+frameN]) > -30 {
			if first < 0 {
				first = i
			}
			last = i + frameN
		}
	}
	if first < 0 {
		t.Fatalf("captured nothing above -30 dBFS in %d samples", len(got))
	}
	span := float64(last-first) / float64(rate)
	body := got[first+rate/10 : max(last-rate/10, first+rate/10)]
	var silentFrames int
	for i := 0; i+frameN <= len(body); i += frameN {
		if audiotest.RMSdBFS(body[i:i+frameN]) < -50 {
			silentFrames++
		}
	}
	wantDB := 20 * math.Log10(0.5/math.Sqrt2)
	an := audiotest.Analyze(body, rate)
	gotDB, freq := an.RMSdBFS, an.DominantHz
	t.Logf("%d Hz: tone captured for %.2f s (wrote 2.00 s), %.1f dBFS (wrote %.1f), dominant %.1f Hz, %d silent frames in the middle",
		rate, span, gotDB, wantDB, freq, silentFrames)
	if math.Abs(freq-1000) > 10 {
		t.Errorf("got dominant %.1f Hz, want 1000 ± 10", freq)
	}
	if math.Abs(gotDB-wantDB) > 3 {
		t.Errorf("got %.1f dBFS, want %.1f ± 3", gotDB, wantDB)
	}
	// A loaded machine may stall the server for a moment, stretching or clipping the tone a little.
	if span < 1.7 || span > 2.4 {
		t.Errorf("got %.2f s of tone, want about 2", span)
	}
}
