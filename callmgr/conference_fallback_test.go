package callmgr

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/media"
)

// plugDevice is a file device whose streams can be pulled out on demand, as a USB headset: after
// unplug, every stream opened before fails (reads silence, errGone); streams opened after work.
type plugDevice struct {
	media.Device
	mu      sync.Mutex
	streams []*plugStream
}

func (d *plugDevice) Open(rate, frame int) (media.Stream, error) {
	st, err := d.Device.Open(rate, frame)
	if err != nil {
		return nil, err
	}
	ps := &plugStream{Stream: st}
	d.mu.Lock()
	d.streams = append(d.streams, ps)
	d.mu.Unlock()
	return ps, nil
}

func (d *plugDevice) unplug() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.streams {
		s.gone.Store(true)
	}
}

type plugStream struct {
	media.Stream
	gone atomic.Bool
}

func (s *plugStream) Read(p []int16) error {
	if s.gone.Load() {
		clear(p)
		return errGone
	}
	return s.Stream.Read(p)
}

func (s *plugStream) Write(p []int16) error {
	if s.gone.Load() {
		return errGone
	}
	return s.Stream.Write(p)
}

// countDevice counts the streams it opened and the ones closed again.
type countDevice struct {
	media.Device
	opens, closes atomic.Int32
	before        func() // runs before each Open, if set
}

func (d *countDevice) Open(rate, frame int) (media.Stream, error) {
	if d.before != nil {
		d.before()
	}
	st, err := d.Device.Open(rate, frame)
	if err != nil {
		return nil, err
	}
	d.opens.Add(1)
	return &countStream{Stream: st, d: d}, nil
}

type countStream struct {
	media.Stream
	d    *countDevice
	once sync.Once
}

func (s *countStream) Close() error {
	s.once.Do(func() { s.d.closes.Add(1) })
	return s.Stream.Close()
}

// fakeDefault makes the default device a file device (800 Hz in, recorded out) for the test; it
// returns the device and its output file. hook, if not nil, runs before each open.
func fakeDefault(t *testing.T, hook func()) (*countDevice, string) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "default-in.wav"), filepath.Join(dir, "default-out.wav")
	if err := audiotest.WriteTone(in, 800, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	fd, err := media.NewDevice(in, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &countDevice{Device: fd, before: hook}, out
}

// waitWarning returns c's next warning event, failing the test if none comes within 5 s.
func (c *core) waitWarning() phone.Event {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-c.events:
			if ev.Type == phone.EventWarning {
				return ev
			}
		case <-deadline:
			c.t.Fatalf("%s: no warning within 5 s", c.name)
			return phone.Event{}
		}
	}
}

// unplugConference starts calls from A (1000 Hz) to B (600 Hz) and C (1400 Hz), joins them in a
// conference, pulls A's device out after half a second and returns A's warning about it.
func unplugConference(t *testing.T, def media.Device) (a, b, c *core, ab, ac phone.CallInfo, ev phone.Event) {
	t.Helper()
	a = startCore(t, "a", coreOpts{toneHz: 1000, defaultDevice: def})
	b = startCore(t, "b", coreOpts{toneHz: 600})
	c = startCore(t, "c", coreOpts{toneHz: 1400})
	plug := &plugDevice{Device: a.mgr.cfg.Device}
	a.mgr.cfg.Device = plug
	ab, _ = established(t, a, b)
	ac, _ = established(t, a, c)
	if err := a.mgr.Conference(ctx(t), []string{ab.ID, ac.ID}); err != nil {
		t.Fatalf("conference: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	plug.unplug()
	ev = a.waitWarning()
	t.Logf("warning: %s", ev.Message)
	if !strings.HasPrefix(ev.Message, errGone.Error()) {
		t.Errorf("warning %q does not say which device disappeared (%q)", ev.Message, errGone)
	}
	if ev.Call == nil || !slices.Equal(ev.Call.Conference, []string{ab.ID, ac.ID}) {
		t.Errorf("warning names call %+v, want a call of the conference %v", ev.Call, []string{ab.ID, ac.ID})
	}
	return a, b, c, ab, ac, ev
}

// hangupAll hangs up A's calls and waits for B and C to see them end.
func hangupAll(t *testing.T, a, b, c *core, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := a.mgr.Hangup(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitState(5*time.Second, phone.CallEnded)
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond) // the devices close after the calls
}

// TestConferenceDeviceFallback pulls A's device out during a conference with B and C: the
// conference goes on on the default device (a file here, 800 Hz in) and a warning says so; the
// far ends hear the default microphone and the default speaker plays both far ends.
func TestConferenceDeviceFallback(t *testing.T) {
	checkGoroutines(t)
	def, defOut := fakeDefault(t, nil)
	a, b, c, ab, ac, ev := unplugConference(t, def)
	if want := "; the conference continues on the default audio device"; !strings.HasSuffix(ev.Message, want) {
		t.Errorf("warning %q, want it to end %q", ev.Message, want)
	}
	time.Sleep(1200 * time.Millisecond)
	hangupAll(t, a, b, c, ab.ID, ac.ID)

	if n, m := def.opens.Load(), def.closes.Load(); n != 1 || m != 1 {
		t.Errorf("the default device was opened %d times and closed %d times, want once each", n, m)
	}
	for _, tt := range []struct {
		who     string
		path    string
		hear    []float64
		notHear float64
	}{
		{"A's default speaker", defOut, []float64{600, 1400}, 1000},
		{"b", b.out, []float64{800, 1400}, 1000},
		{"c", c.out, []float64{800, 600}, 1000},
	} {
		s, rate := lastSeconds(t, tt.path, 800*time.Millisecond)
		for _, f := range tt.hear {
			if p := tonePower(s, rate, f); p < -10 {
				t.Errorf("%s hears %v Hz at %.1f dB of its audio after the device was lost, want > -10 dB", tt.who, f, p)
			}
		}
		// A's own device is gone: its 1000 Hz reaches nobody any more.
		if p := tonePower(s, rate, tt.notHear); p > -25 {
			t.Errorf("%s hears the lost device (%v Hz) at %.1f dB, want < -25 dB", tt.who, tt.notHear, p)
		}
	}
}

// TestConferenceDeviceFallbackSilent: the default device cannot be opened either; the
// conference goes on without sound at A (B and C still hear each other) and the warning says so.
func TestConferenceDeviceFallbackSilent(t *testing.T) {
	checkGoroutines(t)
	a, b, c, ab, ac, ev := unplugConference(t, media.NewUnavailable("default", errors.New("no sound server")))
	if want := ", and the default audio device cannot be used either (no sound server); the conference continues without sound"; !strings.HasSuffix(ev.Message, want) {
		t.Errorf("warning %q, want it to end %q", ev.Message, want)
	}
	time.Sleep(time.Second)
	hangupAll(t, a, b, c, ab.ID, ac.ID)
	for _, tt := range []struct {
		who  *core
		hear float64
	}{{b, 1400}, {c, 600}} {
		s, rate := lastSeconds(t, tt.who.out, 700*time.Millisecond)
		if p := tonePower(s, rate, tt.hear); p < -3 {
			t.Errorf("%s hears the other far end (%v Hz) at %.1f dB, want > -3 dB", tt.who.name, tt.hear, p)
		}
		if p := tonePower(s, rate, 1000); p > -25 {
			t.Errorf("%s hears A's lost device (1000 Hz) at %.1f dB, want < -25 dB", tt.who.name, p)
		}
	}
}

// TestDeviceFallbackRacesConference pulls A's device out during two calls and joins them into a
// conference while the default device is still opening for each: the calls end up in the
// conference (not on the default device), the default device's streams are closed again, nobody
// is told of a move that did not happen, and the conference sounds right.
func TestDeviceFallbackRacesConference(t *testing.T) {
	checkGoroutines(t)
	entered, release := make(chan struct{}, 4), make(chan struct{})
	var releaseOnce sync.Once
	def, _ := fakeDefault(t, func() {
		entered <- struct{}{}
		<-release
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the leak check

	a := startCore(t, "a", coreOpts{toneHz: 1000, defaultDevice: def})
	b := startCore(t, "b", coreOpts{toneHz: 600})
	c := startCore(t, "c", coreOpts{toneHz: 1400})
	plug := &plugDevice{Device: a.mgr.cfg.Device}
	a.mgr.cfg.Device = plug
	ab, _ := established(t, a, b)
	ac, _ := established(t, a, c)
	plug.unplug()
	for range 2 {
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the default device was not opened for both calls within 5 s of the unplug")
		}
	}
	// Both fallbacks are opening; the conference opens A's device anew (plugged in again).
	if err := a.mgr.Conference(ctx(t), []string{ab.ID, ac.ID}); err != nil {
		t.Fatalf("conference: %v", err)
	}
	releaseOnce.Do(func() { close(release) })
	for deadline := time.Now().Add(5 * time.Second); def.closes.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("default device: %d streams opened, %d closed 5 s after the conference; want both closed", def.opens.Load(), def.closes.Load())
		}
	}
	if n := def.opens.Load(); n != 2 {
		t.Errorf("the default device was opened %d times, want 2 (once per call)", n)
	}
	for _, id := range []string{ab.ID, ac.ID} {
		if ci := statusCall(t, a.mgr, id); !slices.Equal(ci.Conference, []string{ab.ID, ac.ID}) {
			t.Errorf("call %s is in conference %v after its fallback finished, want %v", id, ci.Conference, []string{ab.ID, ac.ID})
		}
	}
	time.Sleep(1200 * time.Millisecond)
	for done := false; !done; {
		select {
		case ev := <-a.events:
			if ev.Type == phone.EventWarning {
				t.Errorf("warning %q: the calls never moved to the default device", ev.Message)
			}
		default:
			done = true
		}
	}
	hangupAll(t, a, b, c, ab.ID, ac.ID)
	for _, tt := range []struct {
		who  *core
		hear []float64
	}{{a, []float64{600, 1400}}, {b, []float64{1000, 1400}}, {c, []float64{1000, 600}}} {
		s, rate := lastSeconds(t, tt.who.out, 800*time.Millisecond)
		for _, f := range tt.hear {
			if p := tonePower(s, rate, f); p < -10 {
				t.Errorf("%s hears %v Hz at %.1f dB of its audio in the conference, want > -10 dB", tt.who.name, f, p)
			}
		}
	}
}

// TestDeviceFallbackTwice: A's device disappears during a call, and then the default device it
// moved to disappears too: the call goes on without sound (the default is not opened again and
// again) and a second warning says so.
func TestDeviceFallbackTwice(t *testing.T) {
	checkGoroutines(t)
	def, _ := fakeDefault(t, nil)
	defPlug := &plugDevice{Device: def}

	a := startCore(t, "a", coreOpts{toneHz: 1000, defaultDevice: defPlug})
	b := startCore(t, "b", coreOpts{toneHz: 600})
	plug := &plugDevice{Device: a.mgr.cfg.Device}
	a.mgr.cfg.Device = plug
	ab, _ := established(t, a, b)
	plug.unplug()
	ev := a.waitWarning()
	if want := "; the call continues on the default audio device"; !strings.HasSuffix(ev.Message, want) || ev.Call == nil || ev.Call.ID != ab.ID {
		t.Errorf("first warning %q about call %+v, want one about call %s ending %q", ev.Message, ev.Call, ab.ID, want)
	}
	defPlug.unplug()
	ev = a.waitWarning()
	if want := errGone.Error() + "; the call continues without sound"; ev.Message != want || ev.Call == nil || ev.Call.ID != ab.ID {
		t.Errorf("second warning %q about call %+v, want one about call %s: %q", ev.Message, ev.Call, ab.ID, want)
	}
	if err := a.mgr.Hangup(ctx(t), ab.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(100 * time.Millisecond)
	if n, m := def.opens.Load(), def.closes.Load(); n != 1 || m != 1 {
		t.Errorf("the default device was opened %d times and closed %d times, want once each", n, m)
	}
}
