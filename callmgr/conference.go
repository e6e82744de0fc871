package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"trayphone/media"
)

// fallbackDevice opens the device a call moves to when its own disappears mid-call: the system
// default. A variable so tests can give a device of their own.
var fallbackDevice = func(log *slog.Logger) (media.Device, error) {
	return media.NewDevice("default", "default", log)
}

// conference is a local conference: the sessions of its calls play into a mixer, and the user's
// device is one more port of it, pumped on its own 20 ms schedule. The manager goroutine owns it.
type conference struct {
	calls []*call // in the order they joined
	mixer *media.Mixer
	local media.Stream   // the user's device; nil if it could not be opened
	port  *media.Port    // local's port in the mixer
	stop  func()         // stops the pump between local and port
	tone  *media.Overlay // laid over local (the call-waiting tone)
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

// switchable wraps the audio stream of call c so the call can move to the default device when
// its own disappears, or into a local conference, and so a tone can be laid over what the user
// hears (c.tone). startMediaWith calls it on every call's stream.
func (m *Manager) switchable(c *call, st media.Stream) media.Stream {
	rate, frame := c.codec.SampleRate, c.codec.FrameSamples()
	tone := media.NewOverlay(rate, frame)
	var sw *media.SwitchStream
	sw = media.NewSwitchStream(tone.Wrap(st), func(err error) {
		// Runs on the session's goroutine inside Read or Write: hand off, never block.
		go m.moveToDefault(c, sw, tone, err, rate, frame)
	}, nil)
	c.sw, c.tone = sw, tone
	return sw
}

// moveToDefault moves a call whose audio device failed onto the default device (or, failing that,
// silence) and tells the user. It runs on its own goroutine: opening a sound card takes a while.
func (m *Manager) moveToDefault(c *call, sw *media.SwitchStream, tone *media.Overlay, cause error, rate, frame int) {
	if _, inConf := sw.Current().(*media.Port); inConf {
		return // a mixer port does not fail; the conference's own device is handled there
	}
	var st media.Stream
	dev, err := fallbackDevice(m.log.With("component", "audio"))
	if err == nil {
		st, err = dev.Open(rate, frame)
	}
	msg := fmt.Sprintf("%v; the call continues on the default audio device", cause)
	if err != nil {
		st, _ = media.NewNull().Open(rate, frame)
		msg = fmt.Sprintf("%v, and the default audio device cannot be used either (%v); the call continues without sound", cause, err)
	}
	old := sw.Swap(tone.Wrap(st))
	_ = old.Close()
	id := c.id
	m.post(func() {
		if cur := m.calls[id]; cur == c {
			m.warn(c, msg)
		}
	})
}

// Conference joins two or more answered calls into a local conference: each call's far end
// hears the user and the other calls, the user hears all of them. The calls stay separate SIP
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
		local, err := m.cfg.Device.Open(rate, frame)
		if err != nil {
			m.warn(nil, fmt.Sprintf("could not open the audio device %s for the conference: %v; the calls hear each other but not you", m.cfg.Device.Name(), err))
		} else {
			cf.local, cf.port = local, cf.mixer.Join(nil)
			cf.stop = cf.port.Pump(cf.tone.Wrap(local), m.clk)
		}
		for _, c := range calls {
			m.changed(c)
		}
		return nil
	})
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
	if cf.stop != nil {
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
	st := cf.local
	if st == nil {
		var err error
		if st, err = m.cfg.Device.Open(last.codec.SampleRate, last.codec.FrameSamples()); err != nil {
			st, _ = media.NewNull().Open(last.codec.SampleRate, last.codec.FrameSamples())
		}
	}
	old := last.sw.Swap(last.tone.Wrap(st))
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
