// Package config reads, validates and writes trayphone's one user settings file (TOML).
//
// Load never half-accepts a file: it reports every problem it finds, each with the file, the line
// and the setting it is about, so that a user can fix them all in one go.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// DefaultListen is the SIP listen address used when the file does not set one.
const DefaultListen = "0.0.0.0:5060"

// Config is the content of config.toml.
type Config struct {
	DND       bool              `toml:"dnd"`
	SIP       SIP               `toml:"sip"`
	Audio     Audio             `toml:"audio"`
	Favorites map[string]string `toml:"favorites,omitempty"`
	Accounts  []Account         `toml:"account,omitempty"`
	// STUN is the STUN server (host:port) that tells the phone its public address and NAT type.
	STUN string `toml:"stun,omitempty"`
	// TURN is the relay for media when the NAT is symmetric; its password is in the keyring.
	TURN TURN `toml:"turn,omitempty"`
	// Hooks are programs run on call events (hooks.go).
	Hooks Hooks `toml:"hooks,omitempty"`
	// Forward is call forwarding at start (forward.go); `trayphone forward` changes it.
	Forward Forward `toml:"forward,omitempty"`
	// AutoAnswer says which calls are answered without the user (forward.go).
	AutoAnswer AutoAnswer `toml:"autoanswer,omitempty"`
	// Screen are the call screening rules, tried in order; the first that matches decides.
	Screen []ScreenRule `toml:"screen,omitempty"`
	// Voicemail is the answering machine.
	Voicemail Voicemail `toml:"voicemail,omitempty"`
}

// ScreenRule is one [[screen]] table (internal/screen has what the values mean).
type ScreenRule struct {
	// Match is "anonymous", "contact", "unknown", or a pattern with * on a SIP address or a
	// phone number ("sip:*@spam.example", "+1900*").
	Match string `toml:"match"`
	// Action is "ring", "reject", "voicemail" or "silent".
	Action string `toml:"action"`
	// When limits the rule to days and times in local time ("Mon-Fri 09:00-18:00"); "" always.
	When string `toml:"when,omitempty"`
	// Line is where the rule's table starts in the file (0 when unknown); not a setting.
	Line int `toml:"-"`
}

// Voicemail holds the [voicemail] settings.
type Voicemail struct {
	// Enabled lets the answering machine take calls nobody answers after AnswerAfter seconds.
	// Screening rules with action "voicemail" and "Send to voicemail" use it even when off.
	Enabled bool `toml:"enabled,omitempty"`
	// AnswerAfter is how many seconds a call rings before the machine answers (default 20).
	AnswerAfter int `toml:"answer_after,omitempty"`
	// Greeting is a WAV file the caller hears; "" is the built-in greeting.
	Greeting string `toml:"greeting,omitempty"`
	// MaxLength is the longest message in seconds (default 120).
	MaxLength int `toml:"max_length,omitempty"`
}

// Voicemail defaults.
const (
	DefaultAnswerAfter = 20
	DefaultMaxLength   = 120
)

// AnswerAfterOrDefault returns answer_after, or its default when it is not set.
func (v Voicemail) AnswerAfterOrDefault() int {
	if v.AnswerAfter > 0 {
		return v.AnswerAfter
	}
	return DefaultAnswerAfter
}

// MaxLengthOrDefault returns max_length, or its default when it is not set.
func (v Voicemail) MaxLengthOrDefault() int {
	if v.MaxLength > 0 {
		return v.MaxLength
	}
	return DefaultMaxLength
}

// TURN holds the [turn] settings.
type TURN struct {
	Server   string `toml:"server,omitempty"` // host:port
	Username string `toml:"username,omitempty"`
}

// SIP holds the [sip] settings.
type SIP struct {
	// Listen is the HOST:PORT to listen on (UDP and TCP); if it is taken the core tries the next ports.
	Listen string `toml:"listen"`
	// User is the user part of our address for direct calls; "" means the login name (see UserOrLogin).
	User        string `toml:"user,omitempty"`
	DisplayName string `toml:"display_name,omitempty"`
	// AllowDirectCalls says whether INVITEs that do not come through a registrar are accepted; nil
	// means "yes while no account is configured" (see DirectCallsAllowed).
	AllowDirectCalls *bool `toml:"allow_direct_calls,omitempty"`
	// RingTimeout is how many seconds an incoming call may ring before it is ended with 480
	// (0: the default, 60).
	RingTimeout int `toml:"ring_timeout,omitempty"`
	// MediaEncryption is "off", "optional" (the default, also for "") or "required": whether
	// calls offer and accept SRTP, and whether they refuse audio that is not encrypted.
	MediaEncryption string `toml:"media_encryption,omitempty"`
	// SDESOverUDP lets SRTP keys (SDES) go in the SDP of calls whose signalling is not TLS,
	// where anyone who sees the SIP messages can read them; off unless set.
	SDESOverUDP bool `toml:"sdes_over_udp,omitempty"`
}

// Audio holds the [audio] settings. A device is "default", "null", "portaudio:NAME" or a path to a
// .wav file.
type Audio struct {
	Input  string   `toml:"input"`
	Output string   `toml:"output"`
	Ringer string   `toml:"ringer"`
	Codecs []string `toml:"codecs"` // in order of preference
	// EchoCancel and NoiseSuppression clean the microphone (on unless set to false); AGC evens
	// out its level (off unless set).
	EchoCancel       bool `toml:"echo_cancel"`
	NoiseSuppression bool `toml:"noise_suppression"`
	AGC              bool `toml:"agc,omitempty"`
	// VAD sends nothing but comfort-noise updates while the user is silent (RFC 3389 for G.711
	// and G.722, DTX for Opus); on unless set to false.
	VAD bool `toml:"vad"`
	// Realtime moves the phone to the real-time scheduling class for the rest of a call when the
	// computer is busy as the call starts or makes its audio run late, where the system permits it (root,
	// CAP_SYS_NICE or an RLIMIT_RTPRIO, e.g. the audio group); on unless set to false.
	Realtime bool `toml:"realtime"`
	// SteadySend sends a call's packets from two timer threads, 3 ms after they are ready, when
	// this computer wakes the call's audio thread late now and then (virtual machines do: there
	// every call does so from its first packet), so that they still leave every 20 ms to the
	// tenth of a millisecond; on unless set to false.
	SteadySend bool `toml:"steady_send"`
	// ToneRegion picks the dial, ringback and busy tones: "us", "uk", "eu", "jp", "au", or ""
	// (from the locale, LANG/LC_ALL).
	ToneRegion string `toml:"tone_region,omitempty"`
	// Ringtone is a .wav file played on the ringer for incoming calls; "" is the built-in one.
	Ringtone string `toml:"ringtone,omitempty"`
	// RecordCalls records every answered call into the state directory's recordings/ (a stereo
	// WAV: the user left, the far end right); off unless set.
	RecordCalls bool `toml:"record_calls,omitempty"`
}

// Account is one [[account]] table: a SIP account to register with. Its password is never in the
// file; it lives in the keyring (see "trayphone account password ID").
type Account struct {
	ID            string `toml:"id"`
	AOR           string `toml:"aor"` // sip:user@host
	AuthUser      string `toml:"auth_user,omitempty"`
	Registrar     string `toml:"registrar,omitempty"`
	OutboundProxy string `toml:"outbound_proxy,omitempty"`
	Transport     string `toml:"transport,omitempty"` // udp (default), tcp or tls
	Expires       int    `toml:"expires,omitempty"`   // seconds; 0 means the registrar's default
	// Keepalive is the period, in seconds, of the OPTIONS keepalive that checks the registrar
	// answers; 0 means the default (5 s).
	Keepalive   int    `toml:"keepalive,omitempty"`
	DisplayName string `toml:"display_name,omitempty"`
	// MediaEncryption overrides [sip] media_encryption for this account's calls; "" keeps it.
	MediaEncryption string `toml:"media_encryption,omitempty"`
	// Voicemail is what "Call voicemail" dials through this account: a SIP address
	// (sip:*97@pbx.example.com) or a number or name in the account's domain ("*97").
	Voicemail string `toml:"voicemail,omitempty"`
}

// LoadOptions tell Load what the rest of the program supports.
type LoadOptions struct {
	// KnownCodecs are the codec names audio.codecs may use; nil skips the check.
	KnownCodecs []string
}

// Default returns the settings used when there is no file.
func Default() *Config {
	return &Config{
		SIP: SIP{Listen: DefaultListen},
		Audio: Audio{
			Input:  "default",
			Output: "default",
			Ringer: "default",
			Codecs: []string{"opus", "G722", "PCMU", "PCMA"},

			EchoCancel:       true,
			NoiseSuppression: true,
			VAD:              true,
			Realtime:         true,
			SteadySend:       true,
		},
	}
}

// UserOrLogin returns sip.user, or the login name when it is not set.
func (c *Config) UserOrLogin() string {
	if c.SIP.User != "" {
		return c.SIP.User
	}
	if u, err := user.Current(); err == nil && loginName(u.Username) != "" {
		return loginName(u.Username)
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "trayphone"
}

// loginName is the user part of an account name: Windows gives DOMAIN\user (a backslash has no
// place in a SIP user part), Unix the login name itself.
func loginName(username string) string {
	return username[strings.LastIndexByte(username, '\\')+1:]
}

// DirectCallsAllowed reports whether INVITEs not from a registrar are accepted: sip.allow_direct_calls
// when it is set, otherwise true while no account is configured.
func (c *Config) DirectCallsAllowed() bool {
	if c.SIP.AllowDirectCalls != nil {
		return *c.SIP.AllowDirectCalls
	}
	return len(c.Accounts) == 0
}

// Load reads and validates the settings file at path. A missing file gives Default() and no error.
// Every other problem is returned as an *Error naming the file, line and setting.
func Load(path string, opts LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse decodes and validates a settings file's content; name is used in error messages.
func Parse(name string, data []byte, opts LoadOptions) (*Config, error) {
	p := &parser{name: name, idx: indexKeys(data)}
	var cfg Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			p.unknown(strict)
		case errors.As(err, &de):
			p.decodeError(de)
			return nil, p.err()
		default:
			p.add(0, "", "%s", err.Error())
			return nil, p.err()
		}
	}
	applyDefaults(&cfg, p.idx)
	for i := range cfg.Screen {
		cfg.Screen[i].Line = p.idx.line("screen[" + strconv.Itoa(i) + "]")
	}
	p.validate(&cfg, opts)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// applyDefaults fills the settings the file leaves out. A setting that is present but empty stays
// empty so that validation can name it.
func applyDefaults(c *Config, idx *keyIndex) {
	d := Default()
	set := func(dst *string, key, def string) {
		if !idx.has(key) {
			*dst = def
		}
	}
	set(&c.SIP.Listen, "sip.listen", d.SIP.Listen)
	set(&c.Audio.Input, "audio.input", d.Audio.Input)
	set(&c.Audio.Output, "audio.output", d.Audio.Output)
	set(&c.Audio.Ringer, "audio.ringer", d.Audio.Ringer)
	if !idx.has("audio.codecs") {
		c.Audio.Codecs = d.Audio.Codecs
	}
	if !idx.has("audio.echo_cancel") {
		c.Audio.EchoCancel = d.Audio.EchoCancel
	}
	if !idx.has("audio.noise_suppression") {
		c.Audio.NoiseSuppression = d.Audio.NoiseSuppression
	}
	if !idx.has("audio.vad") {
		c.Audio.VAD = d.Audio.VAD
	}
	if !idx.has("audio.realtime") {
		c.Audio.Realtime = d.Audio.Realtime
	}
	if !idx.has("audio.steady_send") {
		c.Audio.SteadySend = d.Audio.SteadySend
	}
}

// Save writes c to path atomically: a temporary file in the same directory (mode 0600) is renamed
// over the old one, so a crash leaves either the old or the new file. The directory is created 0700.
func Save(path string, c *Config) error {
	data, err := toml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	return writeAtomic(path, data)
}

// writeAtomic replaces path with data: a temporary file in the same directory (mode 0600) is
// synced and renamed over it. The directory is created 0700.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("save settings to %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save settings to %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; not every system can sync a directory
		_ = d.Close()
	}
	return nil
}
