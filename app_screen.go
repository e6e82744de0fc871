package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/internal/config"
	"trayphone/internal/paths"
	"trayphone/internal/phone"
	"trayphone/internal/screen"
	"trayphone/media"
	"trayphone/tray"
	"trayphone/voicemail"
)

// screener applies the screening rules of the settings file with the imported contacts and the
// favorites: callmgr.Screener. The rules are replaced whole ("screen.reload", "screen.block"), so
// a call sees the old rules or the new ones; a file with a bad rule is refused and the rules in
// use stay.
type screener struct {
	path      string // the settings file
	favorites map[string]string
	log       *slog.Logger
	rules     atomic.Pointer[screen.Rules]
	book      atomic.Pointer[addressBook]
	clock     func() time.Time
	// mu serialises edits of the settings file made by this phone ("screen.block").
	mu sync.Mutex
}

func newScreener(path string, cfg *config.Config, log *slog.Logger) (*screener, error) {
	s := &screener{path: path, favorites: cfg.Favorites, log: log, clock: time.Now}
	rs, err := s.compile(cfg.Screen)
	if err != nil {
		return nil, err
	}
	s.rules.Store(rs)
	return s, nil
}

// compile turns the settings' rules into screen.Rules, each knowing its file and line.
func (s *screener) compile(list []config.ScreenRule) (*screen.Rules, error) {
	rules := make([]screen.Rule, len(list))
	for i, r := range list {
		rules[i] = screen.Rule{Match: r.Match, Action: screen.Action(r.Action), When: r.When}
		if r.Line > 0 {
			rules[i].Where = s.path + ":" + strconv.Itoa(r.Line)
		}
	}
	rs, errs := screen.Compile(rules)
	if errs != nil {
		return nil, errors.Join(func() []error {
			var out []error
			for _, e := range errs {
				out = append(out, e)
			}
			return out
		}()...)
	}
	return rs, nil
}

// caller builds what the rules look at.
func (s *screener) caller(uri, name string) screen.Caller {
	c := screen.Caller{URI: uri, Anonymous: screen.IsAnonymous(uri, name)}
	if b := s.book.Load(); b != nil && b.Name(uri) != "" {
		c.Contact = true
	}
	for _, fav := range s.favorites {
		if sameAddress(fav, uri) {
			c.Contact = true
		}
	}
	return c
}

// Screen is callmgr.Screener.
func (s *screener) Screen(uri, name string, now time.Time) screen.Decision {
	return s.rules.Load().Decide(s.caller(uri, name), now)
}

// reload reads the rules from the settings file again. A file with problems is refused with
// them (file, line and rule named) and the rules in use stay.
func (s *screener) reload() (int, error) {
	cfg, err := config.Load(s.path, config.LoadOptions{KnownCodecs: codecNames()})
	if err != nil {
		return 0, fmt.Errorf("the screening rules were not changed; the phone keeps the ones it has:\n%w", err)
	}
	rs, err := s.compile(cfg.Screen)
	if err != nil {
		return 0, fmt.Errorf("the screening rules were not changed:\n%w", err)
	}
	s.rules.Store(rs)
	s.log.Info("screening rules loaded", "rules", len(cfg.Screen))
	return len(cfg.Screen), nil
}

// block puts a reject rule for target (a SIP address or a phone number) first in the settings
// file and uses it at once.
func (s *screener) block(target string) (config.ScreenRule, error) {
	match, err := blockPattern(target)
	if err != nil {
		return config.ScreenRule{}, err
	}
	rule := config.ScreenRule{Match: match, Action: string(screen.ActionReject)}
	s.mu.Lock()
	defer s.mu.Unlock()
	note := "added by \"trayphone block\" on " + s.clock().Format("2006-01-02 15:04")
	if err := config.AddScreenRule(s.path, rule, note, config.LoadOptions{KnownCodecs: codecNames()}); err != nil {
		return rule, err
	}
	if _, err := s.reload(); err != nil {
		return rule, err
	}
	s.log.Info("caller blocked", "match", match)
	return rule, nil
}

// blockPattern turns what the user gave "block" into a match pattern: a phone number as its
// digits, a SIP address as sip:user@host (without port or parameters).
func blockPattern(target string) (string, error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", errors.New("say which caller to block: a SIP address or a phone number")
	}
	if num, ok := screen.CallerNumber("tel:" + strings.TrimPrefix(strings.ToLower(t), "tel:")); ok && !strings.Contains(t, "@") {
		return num, nil
	}
	if !strings.Contains(strings.ToLower(t), "sip:") && !strings.Contains(strings.ToLower(t), "sips:") {
		t = "sip:" + t
	}
	addr := userHostOf(t)
	if addr == "" || !strings.Contains(addr, "@") || strings.ContainsAny(addr, "* ") {
		return "", fmt.Errorf("%q is not a SIP address (user@host) or a phone number", target)
	}
	if num, ok := screen.CallerNumber("sip:" + addr); ok {
		return num, nil // sip:+15550100@carrier: block the number, whichever carrier brings it
	}
	return "sip:" + addr, nil
}

// userHostOf returns user@host of a SIP URI (lower case, no port, no parameters), or "".
func userHostOf(uri string) string { return screen.Address(uri) }

// sameAddress reports whether two SIP addresses have the same user@host.
func sameAddress(a, b string) bool {
	x, y := userHostOf(a), userHostOf(b)
	return x != "" && x == y
}

// ScreenRuleInfo is one rule as "screen list" shows it.
type ScreenRuleInfo struct {
	N      int    `json:"n"`
	Match  string `json:"match"`
	Action string `json:"action"`
	When   string `json:"when,omitempty"`
	Where  string `json:"where,omitempty"`
}

// ScreenTestResult is the answer to "screen test".
type ScreenTestResult struct {
	URI       string `json:"uri"`
	Rule      int    `json:"rule"` // from 1; 0 when none matched
	Action    string `json:"action"`
	Why       string `json:"why"`
	Contact   bool   `json:"contact"`
	Anonymous bool   `json:"anonymous"`
}

// register adds the control commands "screen.list", "screen.test", "screen.reload" and
// "screen.block".
func (s *screener) register(ctl *control.Server) {
	ctl.Handle("screen.list", func(context.Context, json.RawMessage) (any, error) {
		out := []ScreenRuleInfo{}
		for i, r := range s.rules.Load().List() {
			out = append(out, ScreenRuleInfo{N: i + 1, Match: r.Match, Action: string(r.Action), When: r.When, Where: r.Where})
		}
		return out, nil
	})
	ctl.Handle("screen.test", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a struct {
			URI  string `json:"uri"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || strings.TrimSpace(a.URI) == "" {
			return nil, errors.New("say which caller to test: a SIP address or a phone number")
		}
		uri := strings.TrimSpace(a.URI)
		if !strings.Contains(uri, ":") {
			if _, ok := screen.CallerNumber("tel:" + uri); ok && !strings.Contains(uri, "@") {
				uri = "tel:" + uri
			} else {
				uri = "sip:" + uri
			}
		}
		c := s.caller(uri, a.Name)
		d := s.rules.Load().Decide(c, s.clock())
		return ScreenTestResult{URI: uri, Rule: d.Index + 1, Action: string(d.Action), Why: d.Why, Contact: c.Contact, Anonymous: c.Anonymous}, nil
	})
	ctl.Handle("screen.reload", func(context.Context, json.RawMessage) (any, error) {
		n, err := s.reload()
		if err != nil {
			return nil, err
		}
		return map[string]int{"rules": n}, nil
	})
	ctl.Handle("screen.block", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a struct {
			Target string `json:"target"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("block: unreadable arguments: %v", err)
		}
		rule, err := s.block(a.Target)
		if err != nil {
			return nil, err
		}
		return ScreenRuleInfo{N: 1, Match: rule.Match, Action: rule.Action, Where: s.path}, nil
	})
}

// messages is the answering machine as the phone runs it: the machine, playing messages on the
// speaker, and the control commands "messages", "messages.play", "messages.delete".
type messages struct {
	m      *voicemail.Machine
	dev    media.Device // where messages play: the call device's speaker
	status func() phone.Status
	log    *slog.Logger

	mu sync.Mutex
	pb *media.Playback // the message playing now, nil if none
}

// setupVoicemail makes the answering machine. A greeting that cannot be played is reported in
// words and the built-in greeting answers instead, so that no caller hears silence.
func setupVoicemail(cfg *config.Config, p paths.Paths, onMessage func(phone.VoicemailMessage), log *slog.Logger) (*voicemail.Machine, error) {
	vc := voicemail.Config{StateDir: p.State, Greeting: cfg.Voicemail.Greeting,
		MaxLength: time.Duration(cfg.Voicemail.MaxLengthOrDefault()) * time.Second, OnMessage: onMessage, Log: log}
	m, err := voicemail.New(vc)
	if errors.Is(err, voicemail.ErrGreeting) {
		log.Warn("voicemail.greeting refused; callers hear the built-in greeting until it is fixed", "file", cfg.Voicemail.Greeting, "why", err.Error())
		vc.Greeting = ""
		m, err = voicemail.New(vc)
	}
	return m, err
}

// register adds the control commands of the messages.
func (ms *messages) register(ctl *control.Server) {
	ctl.Handle("messages", func(context.Context, json.RawMessage) (any, error) { return ms.m.List() })
	ctl.Handle("messages.delete", func(_ context.Context, raw json.RawMessage) (any, error) {
		id, err := messageID(raw)
		if err != nil {
			return nil, err
		}
		return nil, ms.m.Delete(id)
	})
	ctl.Handle("messages.play", func(_ context.Context, raw json.RawMessage) (any, error) {
		id, err := messageID(raw)
		if err != nil {
			return nil, err
		}
		return ms.play(id)
	})
}

func messageID(raw json.RawMessage) (string, error) {
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
		return "", errors.New("say which message: its ID from \"trayphone messages\"")
	}
	return a.ID, nil
}

// play starts message id on the speaker and marks it played; it returns once it plays.
func (ms *messages) play(id string) (phone.VoicemailMessage, error) {
	msg, err := ms.m.Get(id)
	if err != nil {
		return msg, err
	}
	for _, c := range ms.status().Calls {
		if !c.Voicemail {
			return msg, errors.New("a call is under way; play the message after it")
		}
	}
	const rate = 8000
	pcm, err := media.LoadWAVMono(msg.File, rate)
	if err != nil {
		return msg, fmt.Errorf("message %s cannot be played: %w", id, err)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.pb != nil {
		_ = ms.pb.Stop()
	}
	d := time.Duration(len(pcm)) * time.Second / rate
	pb, err := media.Play(ms.dev, media.Limit(media.NewLoopSource(pcm, 0, rate), d, rate), rate, nil)
	if err != nil {
		return msg, err
	}
	ms.pb = pb
	if err := ms.m.MarkPlayed(id); err != nil {
		ms.log.Warn("the message could not be marked as played", "id", id, "err", err)
	}
	msg.New = false
	return msg, nil
}

// stop ends a message that plays.
func (ms *messages) stop() {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.pb != nil {
		_ = ms.pb.Stop()
		ms.pb = nil
	}
}

// voicemailFor is the callmgr.Config for the answering machine: nil when there is none.
func voicemailFor(m *voicemail.Machine) callmgr.AnsweringMachine {
	if m == nil {
		return nil
	}
	return m
}

// screeningController is the tray's controller with the answering machine and "Block this
// caller" (tray.Voicemail).
type screeningController struct {
	desktopController
	scr  *screener
	msgs *messages // nil without an answering machine
}

// Messages returns the machine's messages, newest first (none without a machine).
func (c screeningController) Messages() []phone.VoicemailMessage {
	if c.msgs == nil {
		return nil
	}
	list, err := c.msgs.m.List()
	if err != nil {
		c.scr.log.Warn("messages cannot be listed", "err", err)
		return nil
	}
	return list
}

// PlayMessage plays message id on the speaker.
func (c screeningController) PlayMessage(_ context.Context, id string) error {
	if c.msgs == nil {
		return errors.New("there is no answering machine")
	}
	_, err := c.msgs.play(id)
	return err
}

// Block puts a reject rule for uri first in the settings file.
func (c screeningController) Block(_ context.Context, uri string) error {
	_, err := c.scr.block(uri)
	return err
}

// SendToVoicemail lets the answering machine take ringing call id.
func (c screeningController) SendToVoicemail(ctx context.Context, id string) error {
	return c.mgr.SendToVoicemail(ctx, id)
}

var _ tray.Voicemail = screeningController{}

// transferAllowed is callmgr's TransferScreen: a far end may not transfer the user to an address
// a reject rule names by pattern ("+1900*", a blocked caller), so a transfer cannot dial what the
// user blocked. The rules about who calls (anonymous, contact, unknown) say nothing about where a
// transfer goes, and do not apply.
func (s *screener) transferAllowed(target string) error {
	d := s.Screen(target, "", s.clock())
	switch d.Rule.Match {
	case screen.MatchAnonymous, screen.MatchContact, screen.MatchUnknown:
		return nil
	}
	if d.Index >= 0 && d.Action == screen.ActionReject {
		return fmt.Errorf("a screening rule blocks %s (%s)", target, d.Why)
	}
	return nil
}
