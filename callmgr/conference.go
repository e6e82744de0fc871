package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"trayphone/internal/phone"
	"trayphone/media"
)

// errNoDefaultDevice is why a call cannot move to the default device when none was given.
var errNoDefaultDevice = errors.New("no default audio device is set up")

// conference is a local conference: the sessions of its calls play into a mixer, and the user's
// device is one more port of it, pumped on its own 20 ms schedule. The manager goroutine owns it.
type conference struct {
	calls    []*call // in the order they joined
	mixer    *media.Mixer
	local    media.Stream        // the user's device as opened (no tone); nil if it could not be opened
	fallback bool                // local is already the default device (or silence)
	sw       *media.SwitchStream // what the pump plays: local with tone laid over it
	port     *media.Port         // the pump's port in the mixer
	stop     func()              // stops the pump between sw and port
	tone     *media.Overlay      // laid over local (the call-waiting tone)
	ended    bool                // fewer than two calls are left; the pump has stopped
}

// ids lists the calls of cf by ID; nil when cf is nil.
func (cf *conference) ids() []string {
	if cf == nil {
		return nil
	}
	out := make([]string, len(cf.calls))
	for i, c := range cf.calls {
		out[i] = c.id
	}
	return out
}

// audioSpot is a place the user's device plays: one call's stream, or a local conference's.
// Its SwitchStream is swapped only on the manager goroutine, so a call that joins a conference
// while its lost device is being replaced ends up in the conference, never on the replacement.
type audioSpot struct {
	sw          *media.SwitchStream
	tone        *media.Overlay
	rate, frame int
	what        string             // "call" or "conference", for the user's message
	live        func() bool        // whether the spot still plays the user's device
	onSwap      func(media.Stream) // hears of the device stream that took over (nil: nobody)
	warn        func(msg string)   // tells the user
}

// deviceStream is the user's device as a spot plays it: dev with the spot's tone laid over it.
// Its first error is reported once, naming the stream, so the manager can tell whether the
// stream that failed still plays when it gets to act on it.
type deviceStream struct {
	media.Stream              // tone.Wrap(dev)
	dev          media.Stream // the device stream itself
	fallback     bool         // dev is the default device (or silence) already
	failed       atomic.Bool  // an error was reported
	onFail       func(error)  // runs once, on the goroutine that hit the error; posts
}

func (d *deviceStream) Read(p []int16) error  { return d.check(d.Stream.Read(p)) }
func (d *deviceStream) Write(p []int16) error { return d.check(d.Stream.Write(p)) }

func (d *deviceStream) check(err error) error {
	if err != nil && d.failed.CompareAndSwap(false, true) {
		d.onFail(err)
	}
	return err
}

// wrap returns dev as spot sp plays it: with sp's tone, and reporting its first error to the
// manager goroutine (deviceFailed). fallback says dev is the default device already.
func (m *Manager) wrap(sp *audioSpot, dev media.Stream, fallback bool) *deviceStream {
	d := &deviceStream{Stream: sp.tone.Wrap(dev), dev: dev, fallback: fallback}
	d.onFail = func(err error) {
		// On the session's or the pump's goroutine, inside Read or Write: post, never block.
		m.post(func() { m.deviceFailed(sp, d, err) })
	}
	return d
}

// callSpot is where call c plays the user's device. startMediaWith has set c.sw and c.tone.
func (m *Manager) callSpot(c *call) *audioSpot {
	return &audioSpot{
		sw: c.sw, tone: c.tone, rate: c.codec.SampleRate, frame: c.codec.FrameSamples(), what: "call",
		live: func() bool { return c.state != phone.CallEnded && c.conf == nil && m.calls[c.id] == c },
		warn: func(msg string) { m.warn(c, msg) },
	}
}

// confSpot is where conference cf plays the user's device.
func (m *Manager) confSpot(cf *conference, rate, frame int) *audioSpot {
	return &audioSpot{
		sw: cf.sw, tone: cf.tone, rate: rate, frame: frame, what: "conference",
		live:   func() bool { return !cf.ended },
		onSwap: func(st media.Stream) { cf.local, cf.fallback = st, true },
		warn: func(msg string) {
			var c *call // the warning names the conference's first call, whose snapshot lists the others
			if len(cf.calls) > 0 {
				c = cf.calls[0]
			}
			m.warn(c, msg)
		},
	}
}

// switchable wraps the audio stream of call c so the call can move to the default device when
// its own disappears, or into a local conference, and so a tone can be laid over what the user
// hears (c.tone). startMediaWith calls it on every call's stream.
func (m *Manager) switchable(c *call, st media.Stream) media.Stream {
	c.tone = media.NewOverlay(c.codec.SampleRate, c.codec.FrameSamples())
	sp := &audioSpot{tone: c.tone}
	d := m.wrap(sp, st, false)
	c.sw = media.NewSwitchStream(d, nil, nil)
	*sp = *m.callSpot(c) // before the session reads d: the spot is complete when d can fail
	return c.sw
}

// deviceFailed runs on the manager goroutine when device stream d of spot sp failed: the user's
// sound card disappeared. If d still plays there, a goroutine opens the default device (opening
// a sound card takes a while), and the manager swaps it in if d still plays then (moveToDefault).
// If d was the default device already, the spot goes on without sound.
func (m *Manager) deviceFailed(sp *audioSpot, d *deviceStream, cause error) {
	if !sp.live() || sp.sw.Current() != d {
		m.log.Info("a lost audio device no longer plays; nothing to move", "in", sp.what, "err", cause)
		return
	}
	m.log.Warn("the audio device failed; moving to the default device", "in", sp.what, "err", cause)
	rate, frame := sp.rate, sp.frame
	fallback := d.fallback
	go func() {
		// Exits once the opened stream is handed to the manager goroutine, or closed because
		// the manager stopped.
		st, msg := m.openFallback(cause, fallback, rate, frame, sp.what)
		m.handOver(st, func() { m.moveToDefault(sp, d, st, msg) })
	}()
}

// openFallback opens the default device (Config.DefaultDevice) at rate and frame for spot kind
// what ("call" or "conference"), or the null device if it cannot be opened (or failed already),
// and returns it with the message that tells the user. It may block: not on the manager
// goroutine.
func (m *Manager) openFallback(cause error, wasFallback bool, rate, frame int, what string) (media.Stream, string) {
	if wasFallback {
		st, _ := media.NewNull().Open(rate, frame)
		return st, fmt.Sprintf("%v; the %s continues without sound", cause, what)
	}
	var st media.Stream
	err := errNoDefaultDevice
	if dev := m.cfg.DefaultDevice; dev != nil {
		st, err = dev.Open(rate, frame)
	}
	if err != nil {
		st, _ = media.NewNull().Open(rate, frame)
		return st, fmt.Sprintf("%v, and the default audio device cannot be used either (%v); the %s continues without sound", cause, err, what)
	}
	return st, fmt.Sprintf("%v; the %s continues on the default audio device", cause, what)
}

// handOver runs f on the manager goroutine; f owns st from then on. If the manager stops before
// f runs, st is closed here. It waits for one or the other.
func (m *Manager) handOver(st media.Stream, f func()) {
	ran := make(chan struct{})
	m.post(func() {
		defer close(ran)
		f()
	})
	select {
	case <-ran:
	case <-m.done:
		// Run has returned: f ran before (ran is closed) or never will.
		select {
		case <-ran:
		default:
			_ = st.Close()
		}
	}
}

// moveToDefault runs on the manager goroutine with the stream st that replaces spot sp's failed
// device stream d. If d still plays there, st takes its place (with the tone) and the user is
// told with msg; if the spot moved on meanwhile (the call joined a conference, or ended; the
// conference ended), st is closed and nothing changes.
func (m *Manager) moveToDefault(sp *audioSpot, d *deviceStream, st media.Stream, msg string) {
	if !sp.live() || sp.sw.Current() != d {
		_ = st.Close()
		m.log.Info("the default audio device is no longer needed: the lost device stopped playing while it opened", "in", sp.what)
		return
	}
	fallback := true
	old := sp.sw.Swap(m.wrap(sp, st, fallback))
	_ = old.Close()
	if sp.onSwap != nil {
		sp.onSwap(st)
	}
	sp.warn(msg)
}

// Conference joins two or more answered calls into a local conference: each call's far end
// hears the user and the other calls, the user hears all of them. Held calls in it are resumed;
// calls outside it are put on hold. The calls stay separate SIP
// calls; hanging one up leaves the others in the conference, and when one call is left it goes
// back to the user's device on its own. All calls must use one audio rate. Each call's snapshot
// lists the conference's calls (phone.CallInfo.Conference) and an event tells of every change.
func (m *Manager) Conference(ctx context.Context, ids []string) error {
	if len(ids) < 2 {
		return errors.New("a conference needs two or more calls")
	}
	return m.do(ctx, func() error {
		var calls []*call
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				return fmt.Errorf("call %s is listed twice", id)
			}
			seen[id] = true
			c, err := m.pick(id, (*call).answered, "answered")
			if err != nil {
				return err
			}
			if c.sw == nil || c.sess == nil {
				return fmt.Errorf("call %s has no audio", id)
			}
			if c.conf != nil {
				return fmt.Errorf("call %s is already in a conference", id)
			}
			if len(calls) > 0 && c.codec.SampleRate != calls[0].codec.SampleRate {
				return fmt.Errorf("calls %s and %s use different audio rates (%d and %d Hz); a conference of them is not supported yet",
					calls[0].id, id, calls[0].codec.SampleRate, c.codec.SampleRate)
			}
			calls = append(calls, c)
		}
		rate, frame := calls[0].codec.SampleRate, calls[0].codec.FrameSamples()
		cf := &conference{calls: calls, mixer: media.NewMixer(frame), tone: media.NewOverlay(rate, frame)}

		// Each call leaves its own device for a mixer port; the user's device then joins once.
		for _, c := range calls {
			old := c.sw.Swap(cf.mixer.Join(nil))
			_ = old.Close()
			c.conf = cf
			m.log.Info("call joins the conference", "call", c.id)
		}
		// The user's device joins once it is open: opening a sound card takes a while, and the
		// manager goroutine does not wait for it (conferenceDevice).
		dev := m.cfg.Device
		// Returns when dev.Open does.
		m.offLoop(func() (back, release func()) {
			local, err := dev.Open(rate, frame)
			back = func() { m.conferenceDevice(cf, dev, rate, frame, local, err) }
			release = func() {
				if err == nil {
					_ = local.Close()
				}
			}
			return back, release
		})
		// The conference is what the user hears now: its held calls come off hold, every other
		// call goes on hold (holdOthers).
		m.holdOthers(calls[0])
		for _, c := range calls {
			if c.localHold {
				if err := m.setHold(c, false); err != nil {
					m.warn(c, fmt.Sprintf("could not take the call with %s off hold for the conference: %v", c.remote, err))
				}
			}
			m.changed(c)
		}
		return nil
	})
}

// conferenceDevice puts the user's device, opened for cf off the manager goroutine, into the
// conference. A conference that ended meanwhile does not take it (its last call opened the
// device again for itself).
func (m *Manager) conferenceDevice(cf *conference, dev media.Device, rate, frame int, local media.Stream, err error) {
	switch {
	case err != nil:
		if !cf.ended {
			m.warn(nil, fmt.Sprintf("could not open the audio device %s for the conference: %v; the calls hear each other but not you", dev.Name(), err))
		}
		return
	case cf.ended:
		_ = local.Close()
		return
	}
	// The device goes through a SwitchStream, as a call's does, so the conference moves to the
	// default device when the user's disappears.
	sp := &audioSpot{tone: cf.tone}
	cf.local, cf.sw = local, media.NewSwitchStream(m.wrap(sp, local, false), nil, nil)
	*sp = *m.confSpot(cf, rate, frame)
	cf.port = cf.mixer.Join(nil)
	cf.stop = cf.port.Pump(cf.sw, m.clk)
}

// leaveConference takes call c, whose session has closed, out of its conference. The others'
// snapshots change; when one call is left, the conference ends and that call goes back to the
// user's device.
func (m *Manager) leaveConference(c *call) {
	cf := c.conf
	if cf == nil {
		return
	}
	c.conf = nil
	cf.calls = slices.DeleteFunc(cf.calls, func(o *call) bool { return o == c })
	m.log.Info("call leaves the conference", "call", c.id, "left", len(cf.calls))
	if len(cf.calls) >= 2 {
		for _, o := range cf.calls {
			m.changed(o)
		}
		return
	}
	cf.ended = true
	if cf.stop != nil {
		// The pump stops before the device stream is closed or handed on; cf.sw is dropped
		// without Close, which would close the device too.
		cf.stop()
		_ = cf.port.Close()
	}
	if len(cf.calls) == 0 {
		if cf.local != nil {
			_ = cf.local.Close()
		}
		return
	}
	last := cf.calls[0]
	cf.calls, last.conf = nil, nil
	// The conference's device stream carries on as the call's own: no second open of the
	// sound card, and a recording file goes on where it was.
	st, fallback := cf.local, cf.fallback
	if st == nil {
		// The device was not open for the conference (still opening, or it could not be
		// opened): the call plays silence until it opens for the call, off the manager
		// goroutine (reopenDevice).
		null, _ := media.NewNull().Open(last.codec.SampleRate, last.codec.FrameSamples())
		hold := &placeholder{Stream: null}
		old := last.sw.Swap(hold)
		_ = old.Close()
		m.reopenDevice(last, hold)
		m.log.Info("the conference ends; the call goes back to the audio device", "call", last.id)
		m.changed(last)
		return
	}
	old := last.sw.Swap(m.wrap(m.callSpot(last), st, fallback))
	_ = old.Close()
	m.log.Info("the conference ends; the call goes back to the audio device", "call", last.id)
	m.changed(last)
}

// conferenceArgs are the arguments of the "conference" control command (control.ConferenceArgs).
type conferenceArgs struct {
	IDs []string `json:"ids"`
}

// ConferenceCommand is the control handler of "conference": {"ids": ["1", "2"]}.
func ConferenceCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args conferenceArgs
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, fmt.Errorf("conference: %v", err)
		}
		if err := m.Conference(ctx, args.IDs); err != nil {
			return nil, err
		}
		return map[string]string{"conference": strings.Join(args.IDs, ",")}, nil
	}
}

// placeholder is silence standing in for a call's device while the device opens; a pointer of
// its own, so that reopenDevice can tell whether it still plays.
type placeholder struct{ media.Stream }

// reopenDevice opens the user's device for call c off the manager goroutine and puts it in place
// of hold, if hold still plays for c then. A device that cannot be opened leaves the call in
// silence.
func (m *Manager) reopenDevice(c *call, hold *placeholder) {
	dev, rate, frame := m.cfg.Device, c.codec.SampleRate, c.codec.FrameSamples()
	// Returns when dev.Open does.
	m.offLoop(func() (back, release func()) {
		st, err := dev.Open(rate, frame)
		back = func() {
			if err != nil {
				m.log.Info("the audio device could not be opened again after the conference; the call continues without sound", "call", c.id, "err", err)
				return
			}
			if c.state == phone.CallEnded || c.conf != nil || c.sw == nil || c.sw.Current() != media.Stream(hold) {
				_ = st.Close()
				return
			}
			old := c.sw.Swap(m.wrap(m.callSpot(c), st, false))
			_ = old.Close()
		}
		release = func() {
			if err == nil {
				_ = st.Close()
			}
		}
		return back, release
	})
}
