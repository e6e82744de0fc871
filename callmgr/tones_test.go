package callmgr

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/media"
)

// fakeEvents is an event source a test feeds by hand.
type fakeEvents struct{ ch chan phone.Event }

func (f *fakeEvents) Subscribe() (<-chan phone.Event, func()) { return f.ch, func() {} }

func (f *fakeEvents) send(id string, dir phone.Direction, st phone.CallState, reason string) {
	ci := phone.CallInfo{ID: id, Direction: dir, State: st, EndReason: reason}
	if st == phone.CallActive {
		ci.Answered = time.Now()
	}
	f.ch <- phone.Event{Type: phone.EventCall, Call: &ci}
}

// toneDevice records what is played on it, stream by stream.
type toneDevice struct {
	mu      sync.Mutex
	streams [][]int16 // what each opened stream played
	open    int       // streams open now
}

func (d *toneDevice) Name() string { return "tone-recorder" }

func (d *toneDevice) Open(rate, frame int) (media.Stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.streams = append(d.streams, nil)
	d.open++
	return &toneStream{d: d, i: len(d.streams) - 1}, nil
}

type toneStream struct {
	d *toneDevice
	i int
}

func (s *toneStream) Read(p []int16) error { clear(p); return nil }
func (s *toneStream) Write(p []int16) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.streams[s.i] = append(s.d.streams[s.i], p...)
	return nil
}
func (s *toneStream) Close() error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.open--
	return nil
}

// state returns how many streams were opened, how many are open, and a copy of the last one.
func (d *toneDevice) state() (opened, open int, last []int16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.streams); n > 0 {
		last = append([]int16(nil), d.streams[n-1]...)
	}
	return len(d.streams), d.open, last
}

// waitFor polls f (the playback runs on its own goroutine) for up to 5 s.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for range 500 {
		if f() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// goertzel returns the relative power of x at freq.
func goertzel(x []int16, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/toneRate)
	var s1, s2 float64
	for _, v := range x {
		s := float64(v)/32768 + coeff*s1 - s2
		s2, s1 = s1, s
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) / float64(len(x)*len(x))
}

func TestTones(t *testing.T) {
	t.Parallel()
	ev := &fakeEvents{ch: make(chan phone.Event, 16)}
	ringer, speaker := &toneDevice{}, &toneDevice{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		PlayTones(ctx, ev, ToneConfig{Speaker: speaker, Ringer: ringer, Region: media.RegionUS, FailTone: 300 * time.Millisecond})
		close(done)
	}()

	// An incoming call rings on the ringer with the ringtone; answering stops it.
	ev.send("1", phone.Incoming, phone.CallIncoming, "")
	waitFor(t, "the ringtone", func() bool { _, open, last := ringer.state(); return open == 1 && len(last) >= 1600 })
	_, _, last := ringer.state()
	if goertzel(last[:1600], 400) < 100*goertzel(last[:1600], 1000) {
		t.Errorf("ringtone: want the built-in 400+450 Hz ring")
	}
	ev.send("1", phone.Incoming, phone.CallActive, "")
	waitFor(t, "the ringtone to stop", func() bool { _, open, _ := ringer.state(); return open == 0 })

	// A second call while the user hears one: nothing on the ringer (the manager plays the
	// call-waiting tone in the call, waiting.go).
	ev.send("2", phone.Incoming, phone.CallIncoming, "")
	ev.send("2", phone.Incoming, phone.CallEnded, "declined")
	// The same while the first call is held here: the call-waiting tone on the ringer; declined:
	// it stops.
	held := phone.CallInfo{ID: "1", Direction: phone.Incoming, State: phone.CallHeld, LocalHold: true, Answered: time.Now()}
	ev.ch <- phone.Event{Type: phone.EventCall, Call: &held}
	ev.send("7", phone.Incoming, phone.CallIncoming, "")
	waitFor(t, "the call-waiting tone", func() bool { n, open, _ := ringer.state(); return n == 2 && open == 1 })
	_, _, last = ringer.state()
	waitFor(t, "a frame of the call-waiting tone", func() bool { _, _, last = ringer.state(); return len(last) >= 800 })
	if p440, p400 := goertzel(last[:800], 440), goertzel(last[:800], 400); p440 < 100*p400 {
		t.Errorf("call-waiting on the ringer: 440 Hz %.2g vs 400 Hz %.2g, want the US call-waiting tone", p440, p400)
	}
	ev.send("7", phone.Incoming, phone.CallEnded, "declined")
	waitFor(t, "the call-waiting tone to stop", func() bool { _, open, _ := ringer.state(); return open == 0 })
	ev.send("1", phone.Incoming, phone.CallEnded, "hung up")
	if n, _, _ := ringer.state(); n != 2 {
		t.Errorf("ringer: %d streams opened, want 2 (the ringtone, then call-waiting while held; none while a call was heard)", n)
	}

	// An outgoing call rings: US ringback (440+480 Hz) on the speaker until it is answered.
	ev.send("3", phone.Outgoing, phone.CallDialing, "")
	ev.send("3", phone.Outgoing, phone.CallRinging, "")
	waitFor(t, "ringback", func() bool { _, open, last := speaker.state(); return open == 1 && len(last) >= 1600 })
	_, _, last = speaker.state()
	if p440, p350 := goertzel(last[:1600], 440), goertzel(last[:1600], 350); p440 < 100*p350 {
		t.Errorf("ringback: 440 Hz %.2g vs 350 Hz %.2g, want the US ringback", p440, p350)
	}
	ev.send("3", phone.Outgoing, phone.CallActive, "")
	waitFor(t, "ringback to stop", func() bool { _, open, _ := speaker.state(); return open == 0 })
	ev.send("3", phone.Outgoing, phone.CallEnded, "hung up")

	// An outgoing call the far end is busy for: the busy tone (480+620 Hz) for a while, then quiet.
	ev.send("4", phone.Outgoing, phone.CallRinging, "")
	ev.send("4", phone.Outgoing, phone.CallEnded, "sip:bob@x is busy (486)")
	waitFor(t, "the busy tone to play and end", func() bool {
		n, open, last := speaker.state()
		return n == 3 && open == 0 && len(last) >= 2000
	})
	_, _, last = speaker.state()
	if p620, p440 := goertzel(last[:1600], 620), goertzel(last[:1600], 440); p620 < 100*p440 {
		t.Errorf("busy tone: 620 Hz %.2g vs 440 Hz %.2g, want the US busy tone", p620, p440)
	}

	// Cancelled by us: no tone.
	ev.send("5", phone.Outgoing, phone.CallRinging, "")
	waitFor(t, "ringback", func() bool { n, open, _ := speaker.state(); return n == 4 && open == 1 })
	ev.send("5", phone.Outgoing, phone.CallEnded, "cancelled")
	waitFor(t, "quiet", func() bool { _, open, _ := speaker.state(); return open == 0 })
	time.Sleep(50 * time.Millisecond)
	if n, _, _ := speaker.state(); n != 4 {
		t.Errorf("after a cancelled call: %d streams opened, want no tone (4)", n)
	}

	// Shutdown stops what plays.
	ev.send("6", phone.Incoming, phone.CallIncoming, "")
	waitFor(t, "the ringtone", func() bool { _, open, _ := ringer.state(); return open == 1 })
	cancel()
	<-done
	if _, open, _ := ringer.state(); open != 0 {
		t.Errorf("after shutdown: %d streams open, want 0", open)
	}
}

func TestFailTone(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]string{
		"call cancelled":                    "",
		"sip:a@b is busy (486)":             "busy",
		"sip:a@b declined the call (603)":   "busy",
		"sip:a@b is out of service (503)":   "congestion",
		"sip:a@b did not respond (is it..)": "congestion",
		"":                                  "",
	} {
		if got := failTone(reason); got != want {
			t.Errorf("failTone(%q): got %q, want %q", reason, got, want)
		}
	}
}

func TestToneConfigFor(t *testing.T) {
	t.Parallel()
	// A phone on files: no tones on its recording, no ringing on a sound card.
	c := ToneConfigFor(media.NewNull(), "default", "uk", "", nil)
	if c.Speaker != nil || c.Ringer != nil || c.Region != "uk" {
		t.Errorf("on null audio: got speaker %v ringer %v region %q, want none, none, uk", c.Speaker, c.Ringer, c.Region)
	}
	// An explicit ringer file is used.
	c = ToneConfigFor(media.NewNull(), t.TempDir()+"/ring.wav", "", "", nil)
	if c.Ringer == nil {
		t.Errorf("explicit ringer file: got none")
	}
}

// A call a screening rule lets ring silently, and a call the answering machine took, make no
// sound here; an ordinary call after them rings.
func TestTonesSilentAndVoicemail(t *testing.T) {
	t.Parallel()
	ev := &fakeEvents{ch: make(chan phone.Event, 16)}
	ringer := &toneDevice{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		PlayTones(ctx, ev, ToneConfig{Ringer: ringer, Region: media.RegionUS})
		close(done)
	}()
	defer func() { cancel(); <-done }()
	silent := phone.CallInfo{ID: "1", Direction: phone.Incoming, State: phone.CallIncoming, Silent: true}
	ev.ch <- phone.Event{Type: phone.EventCall, Call: &silent}
	machine := phone.CallInfo{ID: "2", Direction: phone.Incoming, State: phone.CallActive, Voicemail: true, Answered: time.Now()}
	ev.ch <- phone.Event{Type: phone.EventCall, Call: &machine}
	time.Sleep(200 * time.Millisecond)
	if n, _, _ := ringer.state(); n != 0 {
		t.Fatalf("the ringer opened %d times for a silent call and the machine's call, want 0", n)
	}
	// A third call rings with the ringtone, not the call-waiting tone: the machine's call is not
	// one the user hears.
	ev.send("3", phone.Incoming, phone.CallIncoming, "")
	waitFor(t, "the ringtone", func() bool { _, open, last := ringer.state(); return open == 1 && len(last) >= 1600 })
	_, _, last := ringer.state()
	if goertzel(last[:1600], 400) < 100*goertzel(last[:1600], 440) {
		t.Errorf("want the ringtone (400+450 Hz), not the call-waiting tone")
	}
}
