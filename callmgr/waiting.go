package callmgr

import (
	"trayphone/internal/phone"
	"trayphone/media"
)

// callWaitingGain is the call-waiting tone's level in a call, relative to the tone's own level
// (E.180's -13 dBm0 per frequency): half, about -6 dB, so the user hears it over the far end's
// voice without losing a word.
const callWaitingGain = 0.5

// playsToUser reports whether a call in state st is heard on the user's call device: it is
// answered and not held at our end (a call we hold plays nothing). The tone player (tones.go)
// and the manager use the same rule, so the call-waiting tone plays in the call or on the
// ringer, never both and never neither.
func playsToUser(st phone.CallState, localHold bool) bool {
	return (st == phone.CallActive || st == phone.CallHeld) && !localHold
}

// syncWaitingTone lays the call-waiting tone over the audio of the first call the user hears
// while another call rings here, and stops it when none rings any more (answered, declined,
// cancelled, timed out) or no call is heard. The tone goes into what the user's speaker plays,
// never into what the far end hears. changed calls it on every call change.
func (m *Manager) syncWaitingTone() {
	var ringing bool
	var to *media.Overlay
	var on string
	for _, c := range m.liveCalls() {
		if c.hidden {
			continue
		}
		if c.state == phone.CallIncoming {
			ringing = true
		}
		if to == nil && c.tone != nil && playsToUser(c.state, c.heldHere()) {
			to, on = c.tone, c.id
			if c.conf != nil {
				to = c.conf.tone
			}
		}
	}
	if !ringing || m.cfg.AppServer {
		to = nil // no tone; an application server's calls have no user to tell
	}
	if to == m.waiting {
		return
	}
	if m.waiting != nil {
		m.waiting.Stop()
		m.log.Info("call-waiting tone stops")
	}
	m.waiting = nil
	if to == nil {
		return
	}
	g, err := media.NewToneGenerator(media.Tone(m.region, media.ToneCallWaiting), to.Rate())
	if err != nil {
		m.log.Warn("no call-waiting tone", "err", err)
		return
	}
	to.Play(g, callWaitingGain)
	m.waiting = to
	m.log.Info("call-waiting tone plays in the call", "call", on, "region", m.region)
}
