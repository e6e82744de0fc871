package hooks

import "trayphone/internal/phone"

// maxTracked bounds the calls the tracker remembers: calls end, but a stream that lost their
// end event must not make it grow forever.
const maxTracked = 256

// hookRun is one hook a stream event calls for.
type hookRun struct {
	event string
	call  phone.CallInfo
	file  string
}

// tracker turns the core's call snapshots into hook events: each call rings (incoming), is
// answered and ends at most once, whatever the number of snapshots that say so.
type tracker struct {
	calls map[string]*seen
}

type seen struct {
	rang, answered bool
}

func newTracker() *tracker { return &tracker{calls: map[string]*seen{}} }

// hooksFor returns the hooks event ev calls for, in order.
func (t *tracker) hooksFor(ev phone.Event) []hookRun {
	if ev.Type == phone.EventVoicemail && ev.Voicemail != nil {
		// The answering machine's new message: the caller as the message names them.
		v := ev.Voicemail
		c := phone.CallInfo{ID: v.ID, Direction: phone.Incoming, Remote: v.From, RemoteName: v.Name, Duration: v.Duration}
		if ev.Call != nil {
			c = *ev.Call
		}
		return []hookRun{{event: Message, call: c, file: v.File}}
	}
	if ev.Type != phone.EventCall || ev.Call == nil {
		return nil
	}
	c := *ev.Call
	s := t.calls[c.ID]
	if s == nil {
		if c.State == phone.CallEnded {
			return nil // a call that ended before we saw it start: nothing to follow
		}
		if len(t.calls) >= maxTracked {
			clear(t.calls)
		}
		s = &seen{}
		t.calls[c.ID] = s
	}
	var out []hookRun
	switch c.State {
	case phone.CallIncoming:
		if !s.rang {
			s.rang = true
			out = append(out, hookRun{event: Incoming, call: c})
		}
	case phone.CallActive, phone.CallHeld:
		// A call the answering machine took was not answered by the user: no answered hook
		// (its end runs ended, with TRAYPHONE_RESULT=voicemail).
		if !s.answered && !c.Voicemail {
			s.answered = true
			out = append(out, hookRun{event: Answered, call: c})
		}
	case phone.CallEnded:
		delete(t.calls, c.ID)
		if c.Result == phone.ResultMissed || (c.Direction == phone.Incoming && !s.answered && c.Result == "") {
			out = append(out, hookRun{event: Missed, call: c})
		} else {
			out = append(out, hookRun{event: Ended, call: c})
		}
	}
	return out
}
