package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/screen"
	"trayphone/media"
)

// Screener decides what happens to an incoming call from uri (display name name) at local time
// now: the screening rules ([[screen]]) with the contacts. It must not block: the manager asks
// it on its own goroutine.
type Screener interface {
	Screen(uri, name string, now time.Time) screen.Decision
}

// AnsweringMachine takes calls for the user ([voicemail]; package voicemail). Take returns the
// device that answers call ci — it plays the greeting and a beep to the caller and records what
// follows — and a channel that closes when the message is over by itself (silence, maximum
// length). Take must not block on the disk.
type AnsweringMachine interface {
	Take(ci phone.CallInfo) (dev media.Device, over <-chan struct{}, err error)
}

// errNoMachine is returned when a call is sent to voicemail without an answering machine.
var errNoMachine = errors.New("there is no answering machine ([voicemail] in the settings)")

// screenInvite applies the screening rules to a new INVITE. It returns the action to take:
// ActionReject has been answered already (433 or 603) and filed in the history as screened.
func (m *Manager) screenInvite(req *sip.Request, tx sip.ServerTransaction) screen.Action {
	if m.cfg.Screen == nil {
		return screen.ActionRing
	}
	from := req.From().Address.String()
	d := m.cfg.Screen.Screen(from, req.From().DisplayName, m.clk.Now().Local())
	switch d.Action {
	case screen.ActionReject:
		code, reason := 603, "Decline"
		if screen.IsAnonymous(from, req.From().DisplayName) {
			code, reason = 433, "Anonymity Disallowed" // RFC 5079
		}
		m.logRejected("incoming call screened out", "from", from, "why", d.Why)
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.AppendHeader(sip.NewHeader("Server", "trayphone"))
		_ = tx.Respond(res)
		m.missed(req, "screened: "+d.Why, phone.ResultScreened)
		return screen.ActionReject
	case screen.ActionVoicemail, screen.ActionSilent:
		m.log.Info("incoming call screened", "from", from, "action", string(d.Action), "why", d.Why)
	}
	return d.Action
}

// toVoicemail lets the answering machine take call c: a ringing call is answered by it; an
// answered call (a voice app sending its caller to voicemail) has its audio moved from the
// user's device to the machine, which greets the caller and records the message. why goes in
// the log. It returns an error when there is no machine or it could not take the call; the call
// then goes on as it was.
func (m *Manager) toVoicemail(c *call, why string) error {
	if m.cfg.Voicemail == nil {
		return errNoMachine
	}
	switch {
	case c.voicemail:
		return fmt.Errorf("call %s is with the answering machine already", c.id)
	case c.answered():
		if c.sw == nil || c.sess == nil {
			return fmt.Errorf("call %s has no audio yet", c.id)
		}
		if c.conf != nil {
			return fmt.Errorf("call %s is in a conference; take it out first", c.id)
		}
		if c.heldHere() {
			return fmt.Errorf("call %s is on hold; resume it first", c.id)
		}
	case c.state != phone.CallIncoming:
		return fmt.Errorf("call %s is %s, not ringing or answered", c.id, c.state)
	}
	dev, over, err := m.cfg.Voicemail.Take(c.snapshot(m.clk.Now()))
	if err != nil {
		return fmt.Errorf("the answering machine cannot take the call: %w", err)
	}
	c.result = phone.ResultVoicemail
	if c.answered() {
		st, err := dev.Open(c.codec.SampleRate, c.codec.FrameSamples())
		if err != nil {
			return fmt.Errorf("the answering machine cannot take the call: %w", err)
		}
		if pl := c.tap.play.Swap(nil); pl != nil {
			pl.finish(errPlayStopped) // the machine's greeting is what the caller hears now
		}
		old := c.sw.Swap(st)
		_ = old.Close()
		c.machine, c.voicemail, c.silent = dev, true, false
		m.log.Info("the answering machine takes the answered call", "call", c.id, "from", c.remote, "why", why)
		m.changed(c)
	} else {
		c.machine, c.voicemail, c.silent = dev, true, false
		m.log.Info("the answering machine takes the call", "call", c.id, "from", c.remote, "why", why)
		// The answer goes on off the manager goroutine; if it fails, the call ends saying why
		// (and its result becomes "failed").
		m.answer(c, nil, func(err error) {
			if err != nil {
				m.log.Warn("the answering machine could not answer", "call", c.id, "err", err)
			}
		})
	}
	id := c.id
	go func() {
		// Ends when the message is over by itself, or the phone stops; the call may have
		// ended before (the caller hung up: the manager finds no call then).
		select {
		case <-over:
			m.post(func() {
				if c := m.calls[id]; c != nil && c.voicemail && c.state != phone.CallEnded {
					m.hangup(c, "the answering machine ended the message", nil)
				}
			})
		case <-m.ctxDone():
		}
	}()
	return nil
}

// SendToVoicemail lets the answering machine take call id ("" = the only ringing one): "Send
// to voicemail" on the notification, "trayphone voicemail ID". An answered call given by ID
// goes to the machine too (a voice app's "press 2 for voicemail").
func (m *Manager) SendToVoicemail(ctx context.Context, id string) error {
	return m.do(ctx, func() error {
		ok := func(c *call) bool { return c.state == phone.CallIncoming }
		what := "ringing"
		if id != "" {
			ok = func(c *call) bool { return c.state == phone.CallIncoming || c.answered() }
			what = "ringing or answered"
		}
		c, err := m.pick(id, ok, what)
		if err != nil {
			return err
		}
		return m.toVoicemail(c, "sent to voicemail by the user")
	})
}

// Announce publishes ev to every subscriber (the answering machine's new messages).
func (m *Manager) Announce(ev phone.Event) {
	m.post(func() {
		if ev.Time.IsZero() {
			ev.Time = m.clk.Now()
		}
		m.hub.publish(ev)
	})
}

// VoicemailCommand is the control handler of "voicemail": send the ringing call to voicemail.
func VoicemailCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a struct {
			ID string `json:"id"`
		}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("voicemail: unreadable arguments: %v", err)
			}
		}
		return nil, m.SendToVoicemail(ctx, a.ID)
	}
}
