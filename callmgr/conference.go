package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"trayphone/media"
)

// callStreams maps each call with media (*call) to the *media.SwitchStream its session plays
// through. An entry goes when the session closes the stream.
var callStreams sync.Map

// fallbackDevice opens the device a call moves to when its own disappears mid-call: the system
// default. A variable so tests can give a device of their own.
var fallbackDevice = func(log *slog.Logger) (media.Device, error) {
	return media.NewDevice("default", "default", log)
}

// switchable wraps the audio stream of call c so the call can move to the default device when
// its own disappears, or into a local conference. startMediaWith calls it on every call's stream.
func (m *Manager) switchable(c *call, st media.Stream) media.Stream {
	var sw *media.SwitchStream
	rate, frame := c.codec.SampleRate, c.codec.FrameSamples()
	sw = media.NewSwitchStream(st, func(err error) {
		// Runs on the session's goroutine inside Read or Write: hand off, never block.
		go m.moveToDefault(c, sw, err, rate, frame)
	}, func() { callStreams.Delete(c) })
	callStreams.Store(c, sw)
	return sw
}

// moveToDefault moves a call whose audio device failed onto the default device (or, failing that,
// silence) and tells the user. It runs on its own goroutine: opening a sound card takes a while.
func (m *Manager) moveToDefault(c *call, sw *media.SwitchStream, cause error, rate, frame int) {
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
	old := sw.Swap(st)
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
// calls; hanging one up leaves the others in the conference. All calls must use one audio rate.
func (m *Manager) Conference(ctx context.Context, ids []string) error {
	if len(ids) < 2 {
		return errors.New("a conference needs two or more calls")
	}
	return m.do(ctx, func() error {
		var calls []*call
		var sws []*media.SwitchStream
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
			v, ok := callStreams.Load(c)
			if !ok || c.sess == nil {
				return fmt.Errorf("call %s has no audio", id)
			}
			sw := v.(*media.SwitchStream)
			if _, in := sw.Current().(*media.Port); in {
				return fmt.Errorf("call %s is already in a conference", id)
			}
			if len(calls) > 0 && c.codec.SampleRate != calls[0].codec.SampleRate {
				return fmt.Errorf("calls %s and %s use different audio rates (%d and %d Hz); a conference of them is not supported yet",
					calls[0].id, id, calls[0].codec.SampleRate, c.codec.SampleRate)
			}
			calls = append(calls, c)
			sws = append(sws, sw)
		}
		rate, frame := calls[0].codec.SampleRate, calls[0].codec.FrameSamples()
		mixer := media.NewMixer(frame)

		// Each call leaves its own device for a mixer port; the user's device then joins once.
		var left atomic.Int32
		left.Store(int32(len(calls)))
		var stopLocal func()
		var mu sync.Mutex
		end := func() {
			if left.Add(-1) != 0 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if stopLocal != nil {
				stopLocal()
			}
		}
		for i, c := range calls {
			old := sws[i].Swap(mixer.Join(end))
			_ = old.Close()
			m.log.Info("call joins the conference", "call", c.id)
		}
		local, err := m.cfg.Device.Open(rate, frame)
		if err != nil {
			m.warn(nil, fmt.Sprintf("could not open the audio device %s for the conference: %v; the calls hear each other but not you", m.cfg.Device.Name(), err))
			return nil
		}
		port := mixer.Join(nil)
		stop := port.Pump(local, m.clk)
		mu.Lock()
		stopLocal = func() {
			stop()
			_ = port.Close()
			_ = local.Close()
		}
		mu.Unlock()
		if left.Load() == 0 { // every call ended while the device opened
			mu.Lock()
			stopLocal()
			mu.Unlock()
		}
		return nil
	})
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
