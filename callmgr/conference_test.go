package callmgr

import (
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/media"
)

// tonePower returns the power of samples at freq relative to their total power, in dB.
func tonePower(s []int16, rate int, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2, total float64
	for _, v := range s {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := (s1*s1 + s2*s2 - coeff*s1*s2) * 2 / float64(len(s)) // a sine's power, as total counts it
	return 10 * math.Log10(p/max(total, 1))
}

// lastSeconds returns the last d of a recording, less its final 200 ms.
func lastSeconds(t *testing.T, path string, d time.Duration) ([]int16, int) {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatal(err)
	}
	total := time.Duration(len(s)) * time.Second / time.Duration(rate)
	if total < d+200*time.Millisecond {
		t.Fatalf("%s: only %v recorded", filepath.Base(path), total)
	}
	return audiotest.Trim(s, rate, total-d-200*time.Millisecond, total-200*time.Millisecond), rate
}

// TestConference joins two calls at A (tone 1000 Hz) with B (600 Hz) and C (1400 Hz): each hears
// the other two.
func TestConference(t *testing.T) {
	a := startCore(t, "a", coreOpts{toneHz: 1000})
	b := startCore(t, "b", coreOpts{toneHz: 600})
	c := startCore(t, "c", coreOpts{toneHz: 1400})
	ab, _ := established(t, a, b)
	ac, _ := established(t, a, c)
	if err := a.mgr.Conference(ctx(t), []string{ab.ID}); err == nil {
		t.Errorf("a conference of one call: got no error")
	}
	if err := a.mgr.Conference(ctx(t), []string{ab.ID, ac.ID}); err != nil {
		t.Fatalf("conference: %v", err)
	}
	if err := a.mgr.Conference(ctx(t), []string{ab.ID, ac.ID}); err == nil {
		t.Errorf("the same calls again: got no error")
	}
	time.Sleep(3 * time.Second)
	for _, id := range []string{ab.ID, ac.ID} {
		if err := a.mgr.Hangup(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitState(5*time.Second, phone.CallEnded)
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond) // the conference's device closes after the last call

	for _, tt := range []struct {
		who     *core
		hear    []float64
		notHear float64
	}{
		{b, []float64{1000, 1400}, 600},
		{c, []float64{1000, 600}, 1400},
		{a, []float64{600, 1400}, 1000},
	} {
		s, rate := lastSeconds(t, tt.who.out, 2*time.Second)
		for _, f := range tt.hear {
			if p := tonePower(s, rate, f); p < -10 {
				t.Errorf("%s hears %v Hz at %.1f dB of its audio, want > -10 dB", tt.who.name, f, p)
			}
		}
		if p := tonePower(s, rate, tt.notHear); p > -25 {
			t.Errorf("%s hears itself (%v Hz) at %.1f dB, want < -25 dB", tt.who.name, tt.notHear, p)
		}
	}
}

// dyingDevice is a file device whose streams fail after a number of frames, as a USB headset
// that is pulled out.
type dyingDevice struct {
	media.Device
	frames int
}

func (d *dyingDevice) Open(rate, frame int) (media.Stream, error) {
	st, err := d.Device.Open(rate, frame)
	if err != nil {
		return nil, err
	}
	return &dyingStream{Stream: st, left: d.frames}, nil
}

type dyingStream struct {
	media.Stream
	left int
	dead atomic.Bool
}

var errGone = errors.New(`audio device "USB Headset" disappeared: no audio from it for 3.0s`)

func (s *dyingStream) Read(p []int16) error {
	if s.left--; s.left < 0 {
		clear(p)
		return errGone
	}
	return s.Stream.Read(p)
}

func (s *dyingStream) Write(p []int16) error {
	if s.left < 0 {
		return errGone
	}
	return s.Stream.Write(p)
}

// TestDeviceFallback pulls A's device out mid-call: the call goes on on the default device (here
// a file) and a warning says so.
func TestDeviceFallback(t *testing.T) {
	dir := t.TempDir()
	fallbackIn, fallbackOut := filepath.Join(dir, "default-in.wav"), filepath.Join(dir, "default-out.wav")
	if err := audiotest.WriteTone(fallbackIn, 800, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	saved := fallbackDevice
	fallbackDevice = func(*slog.Logger) (media.Device, error) { return media.NewDevice(fallbackIn, fallbackOut, nil) }
	t.Cleanup(func() { fallbackDevice = saved })

	a := startCore(t, "a", coreOpts{toneHz: 1000})
	b := startCore(t, "b", coreOpts{toneHz: 600})
	a.mgr.cfg.Device = &dyingDevice{Device: a.mgr.cfg.Device, frames: 50}
	ab, _ := established(t, a, b)

	// The warning.
	deadline := time.After(5 * time.Second)
	for warned := false; !warned; {
		select {
		case ev := <-a.events:
			warned = ev.Type == phone.EventWarning && ev.Call != nil && ev.Call.ID == ab.ID
			if warned {
				t.Logf("warning: %s", ev.Message)
			}
		case <-deadline:
			t.Fatal("no warning about the lost device within 5 s")
		}
	}
	time.Sleep(2 * time.Second)
	if err := a.mgr.Hangup(ctx(t), ab.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(100 * time.Millisecond)
	// B hears the default device's microphone now; A's default speaker plays B.
	s, rate := lastSeconds(t, b.out, time.Second)
	if p := tonePower(s, rate, 800); p < -3 {
		t.Errorf("b hears the fallback microphone (800 Hz) at %.1f dB, want > -3 dB", p)
	}
	s, rate = lastSeconds(t, fallbackOut, time.Second)
	if p := tonePower(s, rate, 600); p < -3 {
		t.Errorf("the fallback speaker plays b (600 Hz) at %.1f dB, want > -3 dB", p)
	}
}
