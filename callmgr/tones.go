package callmgr

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"trayphone/assets"
	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/media"
)

// toneRate is the sample rate tones and ringtones are played at.
const toneRate = 8000

// defaultFailTone is how long the busy or congestion tone plays after a call failed.
const defaultFailTone = 3 * time.Second

// ToneConfig says what PlayTones plays and where.
type ToneConfig struct {
	// Speaker is where ringback and the busy/congestion tone play: the call device. Nil plays
	// none. Callers pass it only when it is a sound card (media.SoundCardOutput): a file output
	// is a call's recording.
	Speaker media.Device
	// Ringer is where the ringtone (or, while every call is held, the call-waiting tone) plays.
	// Nil plays none.
	Ringer media.Device
	// Region picks the tones (media.ToneRegions); "" follows the locale.
	Region string
	// Ringtone is a WAV file to ring with; "" is the built-in ringtone.
	Ringtone string
	// FailTone is how long the busy or congestion tone plays (default 3 s).
	FailTone time.Duration
	Clock    clock.Clock
	Log      *slog.Logger
}

// eventSource is what PlayTones follows: *Manager satisfies it.
type eventSource interface {
	Subscribe() (<-chan phone.Event, func())
}

// toneSlot is what plays on one device.
type toneSlot struct {
	dev  media.Device
	kind string // "" for nothing, else what plays: "ring", "ringback", "busy", ...
	pb   *media.Playback
}

// PlayTones follows the calls in src's events and plays what a phone plays: the ringtone on the
// ringer while a call rings here (the call-waiting tone instead when another call is up but held
// here; when the user hears a call, the manager plays the call-waiting tone in it instead),
// ringback on the speaker while an outgoing call rings at the far end, and the busy or congestion
// tone briefly when an outgoing call fails. It returns when ctx is done or the event stream
// ends, after stopping whatever plays.
func PlayTones(ctx context.Context, src eventSource, cfg ToneConfig) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	log := cfg.Log.With("component", "tones")
	if cfg.Region == "" {
		cfg.Region = media.RegionFromLocale(os.Getenv)
	}
	if cfg.FailTone <= 0 {
		cfg.FailTone = defaultFailTone
	}
	ring := ringtone(cfg.Ringtone, log)
	events, unsubscribe := src.Subscribe()
	defer unsubscribe()

	tp := &tonePlayer{cfg: cfg, log: log, ring: ring, calls: map[string]phone.CallInfo{},
		ringer: toneSlot{dev: cfg.Ringer}, speaker: toneSlot{dev: cfg.Speaker}}
	defer tp.stopAll()
	for {
		var failDone <-chan struct{}
		if tp.speaker.pb != nil {
			failDone = tp.speaker.pb.Done()
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Call != nil {
				tp.update(*ev.Call)
			}
		case <-failDone:
			// A tone ended by itself (the busy tone's few seconds), or its device failed: it is
			// not restarted until the calls change.
			tp.speaker.pb.Stop()
			tp.speaker.pb = nil
			if tp.speaker.kind == "busy" || tp.speaker.kind == "congestion" {
				tp.speaker.kind = ""
			}
			continue
		}
		tp.apply()
	}
}

type tonePlayer struct {
	cfg   ToneConfig
	log   *slog.Logger
	ring  []int16
	calls map[string]phone.CallInfo

	fail string // a failure tone to start: "busy" or "congestion"

	ringer, speaker toneSlot
}

// update files a call's new snapshot and notes a failed outgoing call.
func (tp *tonePlayer) update(ci phone.CallInfo) {
	prev, known := tp.calls[ci.ID]
	if ci.State != phone.CallEnded {
		tp.calls[ci.ID] = ci
		return
	}
	delete(tp.calls, ci.ID)
	if ci.Direction == phone.Outgoing && ci.Answered.IsZero() && known &&
		(prev.State == phone.CallDialing || prev.State == phone.CallRinging) {
		tp.fail = failTone(ci.EndReason)
	}
}

// failTone picks the tone for an outgoing call that ended unanswered with reason (the words
// statusReason and inviteFailure write): busy for a busy or declining far end, nothing when we
// cancelled, congestion for everything else.
func failTone(reason string) string {
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "cancel") || r == "":
		return ""
	case strings.Contains(r, "busy") || strings.Contains(r, "declined"):
		return "busy"
	}
	return "congestion"
}

// apply makes the devices play what the calls call for.
func (tp *tonePlayer) apply() {
	var incoming, up, heard, ringing bool
	for _, c := range tp.calls {
		switch {
		case c.Silent || c.Voicemail:
			// A screening rule's "silent", or the answering machine's call: no sound here.
		case c.State == phone.CallIncoming:
			incoming = true
		case c.State == phone.CallActive || c.State == phone.CallHeld:
			up = true
			heard = heard || playsToUser(c.State, c.LocalHold)
		case c.State == phone.CallRinging && c.Direction == phone.Outgoing:
			ringing = true
		}
	}
	want := ""
	switch {
	case incoming && heard:
		// The manager lays the call-waiting tone over the call the user hears (waiting.go): it
		// reaches the headset they are wearing, not a ringer across the room.
	case incoming && up:
		want = "call-waiting" // every call is held here: the ringer tells
	case incoming:
		want = "ring"
	}
	tp.set(&tp.ringer, want)

	want = ""
	switch {
	case up:
	case ringing:
		want = "ringback"
	case tp.fail != "":
		want = tp.fail
	case tp.speaker.kind == "busy" || tp.speaker.kind == "congestion":
		want = tp.speaker.kind // let it finish
	}
	tp.fail = ""
	tp.set(&tp.speaker, want)
}

// set makes slot play kind, stopping what played before.
func (tp *tonePlayer) set(slot *toneSlot, kind string) {
	if slot.kind == kind || slot.dev == nil {
		return
	}
	if slot.pb != nil {
		slot.pb.Stop()
		slot.pb = nil
	}
	slot.kind = ""
	if kind == "" {
		return
	}
	src := tp.source(kind)
	if src == nil {
		return
	}
	pb, err := media.Play(slot.dev, src, toneRate, tp.cfg.Clock)
	if err != nil {
		tp.log.Warn("cannot play a tone", "tone", kind, "device", slot.dev.Name(), "err", err)
		return
	}
	slot.pb, slot.kind = pb, kind
}

func (tp *tonePlayer) source(kind string) media.Source {
	if kind == "ring" {
		if len(tp.ring) == 0 {
			return nil
		}
		return media.NewLoopSource(tp.ring, 0, toneRate)
	}
	k := map[string]media.ToneKind{"ringback": media.ToneRingback, "busy": media.ToneBusy,
		"congestion": media.ToneCongestion, "call-waiting": media.ToneCallWaiting}[kind]
	g, err := media.NewToneGenerator(media.Tone(tp.cfg.Region, k), toneRate)
	if err != nil {
		return nil
	}
	if kind == "busy" || kind == "congestion" {
		return media.Limit(g, tp.cfg.FailTone, toneRate)
	}
	return g
}

func (tp *tonePlayer) stopAll() {
	for _, s := range []*toneSlot{&tp.ringer, &tp.speaker} {
		if s.pb != nil {
			s.pb.Stop()
			s.pb, s.kind = nil, ""
		}
	}
}

// ringtone loads the user's ringtone, or the built-in one when there is none or it cannot be read.
func ringtone(path string, log *slog.Logger) []int16 {
	if path != "" {
		pcm, err := media.LoadWAVMono(path, toneRate)
		if err == nil && len(pcm) > 0 {
			return pcm
		}
		log.Warn("cannot use the ringtone file; using the built-in one", "file", path, "err", err)
	}
	pcm, err := media.DecodeWAVMono(assets.Ringtone(), toneRate)
	if err != nil {
		log.Warn("built-in ringtone unreadable", "err", err)
		return nil
	}
	return pcm
}

// ToneConfigFor builds the tone settings from the call device and the [audio] settings: tones
// play on the call device only when it is a sound card; the ringer is the ringer spec ("default",
// "portaudio:NAME", "null" or a .wav file), except that "default" rings nowhere when the call
// device is not a sound card (a phone run on files is a test or a headless box).
func ToneConfigFor(call media.Device, ringer, region, ringtone string, log *slog.Logger) ToneConfig {
	if log == nil {
		log = slog.Default()
	}
	cfg := ToneConfig{Region: region, Ringtone: ringtone, Log: log}
	sound := media.SoundCardOutput(call)
	if sound {
		cfg.Speaker = call
	}
	if ringer == "" || ringer == "default" {
		if !sound {
			return cfg
		}
	}
	dev, err := media.NewDevice("null", ringer, log.With("component", "ringer"))
	if err != nil {
		log.Warn("no ringer device", "ringer", ringer, "err", err)
		return cfg
	}
	cfg.Ringer = dev
	return cfg
}
