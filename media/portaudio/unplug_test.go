//go:build cgo && linux && !noportaudio

package portaudio

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

// TestPortAudioUnplug removes a named sink of the sound server ("a USB headset": a null sink)
// mid-stream, as unplugging does: the stream must say the device
// disappeared within 2 s, the call (a SwitchStream, as callmgr's fallback does) goes on on the
// default device, and when the sink comes back the next stream plays on it.
func TestPortAudioUnplug(t *testing.T) {
	startPipeWire(t)
	mod := loadSink(t, "tpusb", "Trayphone-USB-Headset")
	dev, err := newDevice("", "tpusb", false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dev.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	s := media.NewSwitchStream(st, func(err error) { failed <- err }, nil)
	defer s.Close()
	// Listen on the default sink's monitor all along.
	ms := openCapture(t, "nullsink.monitor", 8000, 160)
	tone := audiotest.Tone(1000, 0.3, 8000, 160)
	in := make([]int16, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 25 {
		<-tick.C
		if err := s.Write(tone); err != nil {
			t.Fatalf("write before unplugging: %v", err)
		}
		ms.Read(in)
	}
	unplugged := time.Now()
	if out, err := exec.Command("pactl", "unload-module", mod).CombinedOutput(); err != nil {
		t.Fatalf("unplug: %v %s", err, out)
	}
	var gone error
	var detect time.Duration
	var heard []bool // per 20 ms frame after unplugging: was the tone heard on the default sink
	for i := 0; i < 150; i++ {
		<-tick.C
		s.Write(tone)
		ms.Read(in)
		heard = append(heard, peak(in) > 3000)
		if gone != nil {
			continue
		}
		select {
		case gone = <-failed:
			detect = time.Since(unplugged)
			// What callmgr's moveToDefault does: the default device takes over.
			d, err := New("", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			next, err := d.Open(8000, 160)
			if err != nil {
				t.Fatalf("open the default device: %v", err)
			}
			s.Swap(next).Close()
		default:
		}
	}
	if gone == nil {
		t.Fatal("the stream did not report the removed sink within 3 s")
	}
	if !strings.Contains(gone.Error(), `audio device "tpusb" disappeared`) {
		t.Errorf("got %v, want it to say the device disappeared", gone)
	}
	// The longest run without the tone on the default sink, from unplugging until the end
	// (the monitor's own latency counts in it).
	var gap, run, first int
	first = -1
	for i, h := range heard {
		if h {
			if first < 0 {
				first = i
			}
			run = 0
			continue
		}
		run++
		gap = max(gap, run)
	}
	t.Logf("removal reported after %v (%v); tone first heard on the default %d ms after unplugging; longest silence %d ms",
		detect.Round(time.Millisecond), gone, first*20, gap*20)
	if detect > 2*time.Second {
		t.Errorf("removal reported after %v, want within 2 s", detect)
	}
	if first < 0 || gap*20 > 1000 {
		t.Errorf("got the tone first after %d frames and a longest silence of %d ms, want it continuing with gaps under 1 s", first, gap*20)
	}

	// Plugged back in: the next stream opens on it again.
	loadSink(t, "tpusb", "Trayphone-USB-Headset")
	s2, err := dev.Open(8000, 160)
	if err != nil {
		t.Fatalf("open after re-plugging: %v", err)
	}
	defer s2.Close()
	ms2 := openCapture(t, "tpusb.monitor", 8000, 160)
	var p float64
	for i := range 50 {
		<-tick.C
		if err := s2.Write(tone); err != nil {
			t.Fatalf("write after re-plugging: %v", err)
		}
		ms2.Read(in)
		if i > 20 {
			p = max(p, peak(in))
		}
	}
	if p < 3000 {
		t.Errorf("after re-plugging: tone peak %.0f on the sink's monitor, want the tone", p)
	}
}
