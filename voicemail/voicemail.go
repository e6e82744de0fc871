// Package voicemail is trayphone's answering machine: the device that answers a call for the user
// (it plays the greeting and a beep to the caller, then records what the caller says until they
// hang up, fall silent or reach the maximum length) and the messages it keeps in the state
// directory (messages/, one WAV file and one JSON file per message, 0600).
//
// It owns the messages directory; the call manager owns the calls and asks the Machine for a
// device per call (callmgr.AnsweringMachine).
package voicemail

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"trayphone/assets"
	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/media"
)

// Defaults.
const (
	// DefaultSilence is how long the caller may say nothing before the message ends.
	DefaultSilence = 5 * time.Second
	// DefaultMaxLength is the longest message.
	DefaultMaxLength = 120 * time.Second
	// beepFreq and beepLength are the tone that tells the caller to speak.
	beepFreq   = 1000
	beepLength = 500 * time.Millisecond
	// gapBeforeBeep separates the greeting from the beep.
	gapBeforeBeep = 300 * time.Millisecond
	// silenceRMS is the level (of 32768) below which a frame counts as silence: about -50 dBFS,
	// above a line's background noise and comfort noise, below the quietest speech.
	silenceRMS = 100
	// DirName is the messages directory inside the state directory.
	DirName = "messages"
)

// Config says how the Machine answers and where it keeps messages.
type Config struct {
	// StateDir is the state directory; messages go into StateDir/messages (created 0700).
	StateDir string
	// Greeting is a WAV file the caller hears; "" is the built-in greeting (assets.Greeting).
	Greeting string
	// MaxLength is the longest message (default DefaultMaxLength).
	MaxLength time.Duration
	// Silence ends a message after this long without sound (default DefaultSilence).
	Silence time.Duration
	// OnMessage is called, on a goroutine of its own, with each message kept.
	OnMessage func(phone.VoicemailMessage)
	Clock     clock.Clock
	Log       *slog.Logger
}

// Machine answers calls and keeps their messages. Its methods are safe for concurrent use.
type Machine struct {
	cfg Config
	dir string
	log *slog.Logger
	// greeting is the greeting file's sound (mono, at its own rate), or the built-in one.
	greeting     []int16
	greetingRate int
	// mu serialises the message files' creation, listing, changes and deletion.
	mu sync.Mutex
}

// New returns a machine keeping messages under cfg.StateDir. A greeting file that cannot be
// played is an error that says why (ErrGreeting); the caller decides whether to go on with the
// built-in greeting.
func New(cfg Config) (*Machine, error) {
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = DefaultMaxLength
	}
	if cfg.Silence <= 0 {
		cfg.Silence = DefaultSilence
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Machine{cfg: cfg, dir: filepath.Join(cfg.StateDir, DirName), log: cfg.Log}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("voicemail: messages directory: %w", err)
	}
	_ = os.Chmod(m.dir, 0o700)
	if cfg.Greeting != "" {
		pcm, rate, err := LoadGreeting(cfg.Greeting)
		if err != nil {
			return nil, err
		}
		m.greeting, m.greetingRate = pcm, rate
		return m, nil
	}
	pcm, err := media.DecodeWAVMono(assets.Greeting(), 8000)
	if err != nil {
		return nil, fmt.Errorf("voicemail: built-in greeting: %w", err)
	}
	m.greeting, m.greetingRate = pcm, 8000
	return m, nil
}

// ErrGreeting is wrapped by every reason a greeting file is refused.
var ErrGreeting = errors.New("the voicemail greeting cannot be played")

// LoadGreeting reads a greeting WAV file as mono sound at its own rate: any number of channels
// is mixed down (resampling to a call's rate happens per call). A file the phone cannot decode
// (compressed, floating point, 24/32-bit), or one without sound, is refused with the reason,
// never played as silence.
func LoadGreeting(path string) ([]int16, int, error) {
	pcm, rate, channels, err := media.ReadWAV(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v; convert it to 16-bit PCM WAV, e.g. with \"sox IN -b 16 -e signed-integer OUT.wav\"", ErrGreeting, err)
	}
	if channels > 1 {
		pcm = media.Downmix(make([]int16, 0, len(pcm)/channels), pcm, channels)
	}
	if len(pcm) < rate/10 {
		return nil, 0, fmt.Errorf("%w: %s is shorter than a tenth of a second", ErrGreeting, path)
	}
	if rms(pcm) < silenceRMS/4 {
		return nil, 0, fmt.Errorf("%w: %s is silent (no sound above -60 dBFS)", ErrGreeting, path)
	}
	return pcm, rate, nil
}

// Take returns the device that answers call ci and a channel that closes when the message is over
// by itself (silence or maximum length). Nothing touches the disk until the device is opened.
func (m *Machine) Take(ci phone.CallInfo) (media.Device, <-chan struct{}, error) {
	d := &device{m: m, call: ci, over: make(chan struct{})}
	return d, d.over, nil
}

// device is the answering machine for one call.
type device struct {
	m    *Machine
	call phone.CallInfo
	over chan struct{}
	once sync.Once
}

func (d *device) Name() string { return "voicemail" }

// Open prepares the greeting and the beep at rate. The message file is created when the caller
// starts to be recorded (after the beep).
func (d *device) Open(rate, frameSamples int) (media.Stream, error) {
	if rate <= 0 || frameSamples <= 0 {
		return nil, fmt.Errorf("open voicemail: invalid rate %d or frame size %d", rate, frameSamples)
	}
	greet := d.m.greeting
	if d.m.greetingRate != rate {
		r, err := media.NewResampler(d.m.greetingRate, rate)
		if err != nil {
			return nil, fmt.Errorf("open voicemail: greeting: %w", err)
		}
		out := r.Process(make([]int16, 0, r.OutLen(len(greet))+64), greet)
		greet = r.Process(out, make([]int16, 64))
	}
	prompt := make([]int16, 0, len(greet)+rate)
	prompt = append(prompt, greet...)
	prompt = append(prompt, make([]int16, int(gapBeforeBeep)*rate/int(time.Second))...)
	prompt = append(prompt, Beep(rate)...)
	return &stream{d: d, rate: rate, prompt: prompt,
		maxFrames: int64(d.m.cfg.MaxLength) * int64(rate) / int64(time.Second),
		silFrames: int64(d.m.cfg.Silence) * int64(rate) / int64(time.Second)}, nil
}

// Beep returns the beep after the greeting at rate: beepFreq Hz for beepLength, at -6 dBFS,
// with 5 ms ramps so that it does not click.
func Beep(rate int) []int16 {
	n := int(beepLength) * rate / int(time.Second)
	ramp := rate / 200
	out := make([]int16, n)
	for i := range out {
		g := 1.0
		if i < ramp {
			g = float64(i) / float64(ramp)
		} else if n-1-i < ramp {
			g = float64(n-1-i) / float64(ramp)
		}
		out[i] = int16(16384 * g * math.Sin(2*math.Pi*beepFreq*float64(i)/float64(rate)))
	}
	return out
}

// stream plays the prompt (greeting, gap, beep) to the caller, then records them.
type stream struct {
	d      *device
	rate   int
	prompt []int16

	mu        sync.Mutex
	pos       int  // samples of the prompt played
	recording bool // the prompt is over: what the caller says is kept
	w         *media.WAVWriter
	msg       phone.VoicemailMessage
	frames    int64 // samples recorded
	sound     bool  // something above silence was recorded
	quiet     int64 // samples of silence at the end of the recording
	maxFrames int64
	silFrames int64
	closed    bool
	failed    bool
}

// Read gives the caller the next frame of the prompt, then silence.
func (s *stream) Read(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := copy(p, s.prompt[min(s.pos, len(s.prompt)):])
	clear(p[n:])
	s.pos += n
	if s.pos >= len(s.prompt) && !s.recording && !s.closed {
		s.recording = true
	}
	return nil
}

// Write records what the caller says once the prompt is over.
func (s *stream) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.recording || s.failed {
		return nil
	}
	if s.w == nil {
		if err := s.start(); err != nil {
			s.failed = true
			s.d.m.log.Warn("the answering machine cannot record the message", "from", s.d.call.Remote, "err", err)
			s.d.end()
			return nil
		}
	}
	if err := s.w.Write(p); err != nil {
		s.failed = true
		s.d.m.log.Warn("the answering machine stopped recording", "from", s.d.call.Remote, "err", err)
		s.d.end()
		return nil
	}
	s.frames += int64(len(p))
	if rms(p) < silenceRMS {
		s.quiet += int64(len(p))
	} else {
		s.quiet, s.sound = 0, true
	}
	if s.frames >= s.maxFrames || s.quiet >= s.silFrames {
		s.d.end()
	}
	return nil
}

// start creates the message's WAV file.
func (s *stream) start() error {
	m := s.d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Clock.Now()
	id := now.UTC().Format("20060102-150405")
	for i := 2; exists(filepath.Join(m.dir, id+".wav")) || exists(filepath.Join(m.dir, id+".json")); i++ {
		id = fmt.Sprintf("%s-%d", now.UTC().Format("20060102-150405"), i)
	}
	path := filepath.Join(m.dir, id+".wav")
	w, err := media.NewWAVWriter(path, s.rate, 1) // 0600
	if err != nil {
		return err
	}
	s.w = w
	s.msg = phone.VoicemailMessage{ID: id, From: s.d.call.Remote, Name: s.d.call.RemoteName, Start: now.Round(0).Truncate(time.Second), File: path, New: true}
	return nil
}

// Close ends the recording. The file is finished and the message filed on a goroutine of its
// own, so that the call manager never waits for the disk.
func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.d.end()
	if s.w == nil {
		return nil
	}
	w, msg, frames, sound := s.w, s.msg, s.frames, s.sound
	msg.Duration = phone.Seconds(math.Round(float64(frames)/float64(s.rate)*10) / 10)
	go s.d.m.file(w, msg, sound)
	return nil
}

// end closes the over channel once.
func (d *device) end() { d.once.Do(func() { close(d.over) }) }

// file finishes message msg recorded by w: kept with its metadata, or removed when the caller
// said nothing.
func (m *Machine) file(w *media.WAVWriter, msg phone.VoicemailMessage, sound bool) {
	err := w.Close()
	if err == nil && !sound {
		m.mu.Lock()
		_ = os.Remove(msg.File)
		m.mu.Unlock()
		m.log.Info("the caller left no message", "from", msg.From)
		return
	}
	if err != nil {
		m.log.Warn("the message could not be finished; what was recorded is kept", "from", msg.From, "file", msg.File, "err", err)
	}
	m.mu.Lock()
	err = m.writeMeta(msg)
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("the message's details could not be saved", "file", msg.File, "err", err)
		return
	}
	m.log.Info("new message", "id", msg.ID, "from", msg.From, "duration", float64(msg.Duration))
	if m.cfg.OnMessage != nil {
		m.cfg.OnMessage(msg)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// rms is the root mean square level of p.
func rms(p []int16) float64 {
	if len(p) == 0 {
		return 0
	}
	var sum float64
	for _, v := range p {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(p)))
}
