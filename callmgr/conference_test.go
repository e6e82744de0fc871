package callmgr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
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
	def, err := media.NewDevice(fallbackIn, fallbackOut, nil)
	if err != nil {
		t.Fatal(err)
	}

	a := startCore(t, "a", coreOpts{toneHz: 1000, defaultDevice: def})
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

// waitCall returns a's next event about call id for which ok holds.
func (c *core) waitCall(id, what string, ok func(phone.CallInfo) bool) phone.CallInfo {
	c.t.Helper()
	return c.wait(5*time.Second, "call "+id+" "+what, func(ci phone.CallInfo) bool { return ci.ID == id && ok(ci) })
}

// statusCall returns call id from m's status.
func statusCall(t *testing.T, m *Manager, id string) phone.CallInfo {
	t.Helper()
	for _, ci := range m.Status().Calls {
		if ci.ID == id {
			return ci
		}
	}
	t.Fatalf("call %s is not in the status", id)
	return phone.CallInfo{}
}

// TestConferenceMembers follows a conference of three calls at A (with B, C and D) in the
// snapshots and events: each call lists the conference's calls; when D hangs up the other two
// list each other; while D calls again, the call-waiting tone plays on A's conference device but
// not into the conference; when C hangs up the conference ends and B's call goes back to A's
// device, where A and B still hear each other.
func TestConferenceMembers(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{toneHz: 1000, callWaiting: true, toneRegion: media.RegionEU})
	b := startCore(t, "b", coreOpts{toneHz: 600})
	c := startCore(t, "c", coreOpts{toneHz: 1400})
	d := startCore(t, "d", coreOpts{toneHz: 1800})
	ab, _ := established(t, a, b)
	ac, _ := established(t, a, c)
	ad, dd := established(t, a, d)
	all := []string{ab.ID, ac.ID, ad.ID}
	if ci := statusCall(t, a.mgr, ab.ID); len(ci.Conference) != 0 {
		t.Errorf("before the conference: call %s lists %v, want no conference", ab.ID, ci.Conference)
	}
	if err := a.mgr.Conference(ctx(t), all); err != nil {
		t.Fatalf("conference: %v", err)
	}
	for _, id := range all {
		ci := a.waitCall(id, "in the conference", func(ci phone.CallInfo) bool { return len(ci.Conference) > 0 })
		if !slices.Equal(ci.Conference, all) {
			t.Errorf("event of call %s: conference %v, want %v", id, ci.Conference, all)
		}
		if got := statusCall(t, a.mgr, id).Conference; !slices.Equal(got, all) {
			t.Errorf("status of call %s: conference %v, want %v", id, got, all)
		}
	}
	js, err := json.Marshal(statusCall(t, a.mgr, ab.ID))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"conference":["%s","%s","%s"]`, ab.ID, ac.ID, ad.ID); !strings.Contains(string(js), want) {
		t.Errorf("JSON of call %s: %s, want it to contain %s", ab.ID, js, want)
	}
	time.Sleep(time.Second)

	// D hangs up: B's and C's calls list the two of them.
	if err := d.mgr.Hangup(ctx(t), dd.ID); err != nil {
		t.Fatal(err)
	}
	two := []string{ab.ID, ac.ID}
	for _, id := range two {
		ci := a.waitCall(id, "in a conference of two", func(ci phone.CallInfo) bool { return len(ci.Conference) == 2 })
		if !slices.Equal(ci.Conference, two) {
			t.Errorf("after D hung up, call %s: conference %v, want %v", id, ci.Conference, two)
		}
	}
	if ci := statusCall(t, a.mgr, ab.ID); !slices.Equal(ci.Conference, two) {
		t.Errorf("status after D hung up: conference %v, want %v", ci.Conference, two)
	}

	// D calls again and rings for a moment: the call-waiting tone (EU: 425 Hz, 200 ms twice)
	// plays on A's conference device, not into the mix B and C hear.
	dc, err := d.mgr.Call(ctx(t), a.ua.AOR(), "")
	if err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallIncoming)
	if !waitingTone(t, a.mgr) {
		t.Errorf("D rings during the conference: no call-waiting tone")
	}
	time.Sleep(700 * time.Millisecond)
	if err := d.mgr.Hangup(ctx(t), dc.ID); err != nil {
		t.Fatal(err)
	}
	d.waitState(5*time.Second, phone.CallEnded)

	// C hangs up: the conference ends; B's call is on its own again.
	time.Sleep(300 * time.Millisecond)
	if err := a.mgr.Hangup(ctx(t), ac.ID); err != nil {
		t.Fatal(err)
	}
	a.waitCall(ab.ID, "out of the conference", func(ci phone.CallInfo) bool { return len(ci.Conference) == 0 && ci.State == phone.CallActive })
	if ci := statusCall(t, a.mgr, ab.ID); len(ci.Conference) != 0 || ci.State != phone.CallActive {
		t.Errorf("status after the conference ended: call %s %s in %v, want active in none", ab.ID, ci.State, ci.Conference)
	}
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(1500 * time.Millisecond)
	if err := a.mgr.Hangup(ctx(t), ab.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond) // A's device closes with the call

	// The last second: A and B hear each other and nobody else, on the device the conference
	// had (A's recording went on in one file).
	for _, tt := range []struct {
		who     *core
		hear    float64
		notHear []float64
	}{
		{a, 600, []float64{1400, 1800}},
		{b, 1000, []float64{1400, 1800}},
	} {
		s, rate := lastSeconds(t, tt.who.out, time.Second)
		if p := tonePower(s, rate, tt.hear); p < -3 {
			t.Errorf("%s hears %v Hz at %.1f dB of its audio after the conference, want > -3 dB", tt.who.name, tt.hear, p)
		}
		for _, f := range tt.notHear {
			if p := tonePower(s, rate, f); p > -25 {
				t.Errorf("%s still hears %v Hz at %.1f dB after the conference, want < -25 dB", tt.who.name, f, p)
			}
		}
	}
	// The call-waiting tone: two bursts 400 ms apart at A, none at B or C.
	for _, who := range []*core{a, b, c} {
		s, rate, err := audiotest.ReadWAVMono(who.out)
		if err != nil {
			t.Fatal(err)
		}
		got := bursts(toneWindows(s, rate, 425, -40))
		if who == a && (len(got) != 2 || got[1]-got[0] != 20) {
			t.Errorf("a hears 425 Hz bursts at windows %v, want two 400 ms (20 windows) apart while D rang", got)
		}
		if who != a && len(got) > 0 {
			t.Errorf("%s hears 425 Hz at windows %v: A's call-waiting tone leaked into the conference", who.name, got)
		}
	}
	s, rate, err := audiotest.ReadWAVMono(a.out)
	if err != nil {
		t.Fatal(err)
	}
	// 3 s from the conference's start: the call after it did not open the device (and rewrite
	// the file) again.
	if got := time.Duration(len(s)) * time.Second / time.Duration(rate); got < 2500*time.Millisecond {
		t.Errorf("A's recording is %v long, want the conference and the call after it in one file (about 3 s)", got)
	}
}
