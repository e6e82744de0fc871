//go:build !noportaudio

package portaudio

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPortAudioUnplug plays through a second PipeWire sink ("a USB headset": a null sink reached
// through its own ALSA PCM, "portaudio:tpusb") and removes it with pactl mid-stream, as unplugging
// does. Either the stream reports the device gone (trayphone then moves the call to the default
// device and says so: callmgr's TestDeviceFallback) or, as PipeWire does today, the server moves
// the stream to the default sink itself, where the audio must be heard. When the sink comes back,
// a new stream (the next call) opens on it again.
func TestPortAudioUnplug(t *testing.T) {
	startPipeWire(t)
	home := os.Getenv("HOME")
	asound := filepath.Join(home, ".asoundrc")
	b, err := os.ReadFile(asound)
	if err != nil {
		t.Fatal(err)
	}
	extra := "\npcm.tpusb { type pulse; device \"tpusb\" }\nctl.tpusb { type pulse }\n"
	if err := os.WriteFile(asound, append(b, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() string {
		out, err := exec.Command("pactl", "load-module", "module-null-sink", "sink_name=tpusb", "media.class=Audio/Sink",
			"channel_map=mono", "rate=48000").Output()
		if err != nil {
			t.Fatalf("load the sink: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	mod := load()

	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
	}
	t.Logf("devices: %q", names)
	d, err := New("", "tpusb", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Open(8000, 160)
	if err != nil {
		t.Skipf("PortAudio cannot open the sink's ALSA PCM here: %v", err)
	}
	defer s.Close()
	frame := make([]int16, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 25 {
		<-tick.C
		if err := s.Write(frame); err != nil {
			t.Fatalf("write before unplugging: %v", err)
		}
	}
	if out, err := exec.Command("pactl", "unload-module", mod).CombinedOutput(); err != nil {
		t.Fatalf("unplug: %v %s", err, out)
	}
	// Listen on the default sink's monitor: if the server moved the stream there, the tone
	// written to the unplugged device is heard on the default one.
	mic, err := newDevice("", "", true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mic.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	for i := range frame {
		frame[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	var gone error
	var heard float64
	in := make([]int16, 160)
	for i := range 6 * 50 {
		<-tick.C
		if gone = s.Write(frame); gone != nil {
			break
		}
		if ms.Read(in) == nil && i > 50 {
			for _, v := range in {
				heard = max(heard, math.Abs(float64(v)))
			}
		}
	}
	t.Logf("after unplugging: write error %v; peak heard on the default sink %.0f", gone, heard)
	if gone == nil {
		// PipeWire moves the streams of a removed sink to the default one: the call goes on
		// there without trayphone's fallback. It must be audible.
		if heard < 3000 {
			t.Errorf("the stream survived the unplug but is not heard on the default sink (peak %.0f)", heard)
		}
	} else if !strings.Contains(gone.Error(), "disappeared") && !strings.Contains(gone.Error(), "did not start") {
		t.Errorf("after unplugging: got %v, want a device-gone error", gone)
	}
	s.Close()

	// Plugged back in: a new stream (the next call) opens on it.
	load()
	s2, err := d.Open(8000, 160)
	if err != nil {
		t.Fatalf("open after re-plugging: %v", err)
	}
	defer s2.Close()
	for range 10 {
		<-tick.C
		if err := s2.Write(frame); err != nil {
			t.Fatalf("write after re-plugging: %v", err)
		}
	}
}
