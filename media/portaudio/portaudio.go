//go:build cgo && (linux || windows) && !noportaudio

// Package portaudio is trayphone's sound card driver: a media.Device on PortAudio (cgo). It is
// the one package that links the native library; main registers SoundCard with
// media.UseSoundCard, so media and everything above it stay free of it. Built with the
// noportaudio tag, every entry point fails with a plain message instead.
package portaudio

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/gordonklaus/portaudio"

	"trayphone/media"
)

// Device is a media.Device on a sound card reached through PortAudio. The sound card is opened
// only by Open and released by the stream's Close; PortAudio itself is initialized while at
// least one stream is open (or while ListDevices runs) and terminated after.
//
// Between PortAudio's callback thread and Read/Write sit two single-producer single-consumer ring
// buffers, so the callback never allocates, locks or blocks, and the media session's 20 ms clock
// never waits for the device. The callback and the rings are C (callback.c): no Go code runs on
// PortAudio's thread, and Read and Write make no cgo call.
type Device struct {
	inName, outName string // "" is the default device
	in, out         bool   // which sides to open
	log             *slog.Logger
}

// New returns a duplex Device using the named input and output devices ("" or "default" for the
// system default). Nothing is opened until Open.
func New(in, out string, log *slog.Logger) (*Device, error) {
	return newDevice(in, out, true, true, log)
}

func newDevice(inName, outName string, in, out bool, log *slog.Logger) (*Device, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if inName == "default" {
		inName = ""
	}
	if outName == "default" {
		outName = ""
	}
	return &Device{inName: inName, outName: outName, in: in, out: out, log: log}, nil
}

// Name describes the device, e.g. "portaudio:default" or "portaudio:USB Headset".
func (d *Device) Name() string {
	side := func(n string) string {
		if n == "" {
			return "portaudio:default"
		}
		return "portaudio:" + n
	}
	switch {
	case d.in && !d.out:
		return side(d.inName)
	case d.out && !d.in:
		return side(d.outName)
	case d.inName == d.outName:
		return side(d.inName)
	}
	return side(d.inName) + " > " + side(d.outName)
}

// SoundCardSides reports which sides the device uses (media.SoundCardDevice).
func (d *Device) SoundCardSides() (in, out bool) { return d.in, d.out }

// paInit reference-counts PortAudio initialization.
var paInit struct {
	mu   sync.Mutex
	refs int
}

func paAcquire() error {
	paInit.mu.Lock()
	defer paInit.mu.Unlock()
	if paInit.refs == 0 {
		quietAudioLibs()
		if err := pa.Initialize(); err != nil {
			return fmt.Errorf("initialize portaudio: %w", err)
		}
	}
	paInit.refs++
	return nil
}

func paRelease() {
	paInit.mu.Lock()
	defer paInit.mu.Unlock()
	paInit.refs--
	if paInit.refs == 0 {
		pa.Terminate()
	}
}

// ListDevices returns the audio devices PortAudio sees and, when a sound server (PipeWire or
// PulseAudio) answers, its sinks and sources.
func ListDevices() ([]DeviceInfo, error) {
	if err := paAcquire(); err != nil {
		return nil, err
	}
	defer paRelease()
	devs, err := pa.Devices()
	if err != nil {
		return nil, fmt.Errorf("list audio devices: %w", err)
	}
	var defIn, defOut string
	if d, err := pa.DefaultInputDevice(); err == nil {
		defIn = d.Name
	}
	if d, err := pa.DefaultOutputDevice(); err == nil {
		defOut = d.Name
	}
	out := make([]DeviceInfo, 0, len(devs))
	for _, d := range devs {
		out = append(out, DeviceInfo{
			Name:        d.Name,
			MaxIn:       d.MaxInputChannels,
			MaxOut:      d.MaxOutputChannels,
			Default:     d.Name == defIn || d.Name == defOut,
			DefaultRate: int(d.DefaultSampleRate),
		})
	}
	return append(out, listServerDevices()...), nil
}

// listServerDevices returns the sound server's sinks and sources, or none if no server answers.
func listServerDevices() []DeviceInfo {
	srv, err := dialSoundServer()
	if err != nil {
		return nil
	}
	defer srv.close()
	devs, err := srv.devices()
	if err != nil {
		return nil
	}
	out := make([]DeviceInfo, 0, len(devs))
	for _, d := range devs {
		info := DeviceInfo{Name: d.name, Description: d.description, Default: d.isDefault, DefaultRate: d.rate,
			Server: true, Monitor: d.monitor}
		if d.input {
			info.MaxIn = d.channels
		} else {
			info.MaxOut = d.channels
		}
		out = append(out, info)
	}
	return out
}

// findDevice returns the named device: an exact name, or else the one device whose name
// contains name, ignoring case.
func findDevice(name string, input bool) (*pa.DeviceInfo, error) {
	if name == "" {
		var d *pa.DeviceInfo
		var err error
		if input {
			d, err = pa.DefaultInputDevice()
		} else {
			d, err = pa.DefaultOutputDevice()
		}
		if err != nil {
			return nil, fmt.Errorf("no default audio %s device: %w", direction(input), err)
		}
		return d, nil
	}
	devs, err := pa.Devices()
	if err != nil {
		return nil, err
	}
	usable := func(d *pa.DeviceInfo) bool {
		if input {
			return d.MaxInputChannels > 0
		}
		return d.MaxOutputChannels > 0
	}
	var matches []*pa.DeviceInfo
	var names []string
	for _, d := range devs {
		if !usable(d) {
			continue
		}
		names = append(names, fmt.Sprintf("%q", d.Name))
		if d.Name == name {
			return d, nil
		}
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(name)) {
			matches = append(matches, d)
		}
	}
	if len(matches) == 1 {
		return matches[0], nil
	}
	if len(matches) > 1 {
		return nil, fmt.Errorf("audio %s device %q is ambiguous: it matches %d devices", direction(input), name, len(matches))
	}
	return nil, fmt.Errorf("no audio %s device named %q (have %s)", direction(input), name, strings.Join(names, ", "))
}

func direction(input bool) string {
	if input {
		return "input"
	}
	return "output"
}

// Open opens the sound card at rate, or, if it refuses that rate, at its default rate with
// resampling in Read and Write.
func (d *Device) Open(rate, frameSamples int) (media.Stream, error) {
	if rate <= 0 || frameSamples <= 0 {
		return nil, fmt.Errorf("open audio device %q: invalid rate %d or frame size %d", d.Name(), rate, frameSamples)
	}
	if err := paAcquire(); err != nil {
		return nil, fmt.Errorf("open audio device %q: %w", d.Name(), err)
	}
	s, err := d.open(rate, frameSamples)
	if err != nil {
		paRelease()
		return nil, fmt.Errorf("open audio device %q: %w", d.Name(), err)
	}
	return s, nil
}

// side is where one direction of a stream goes: a PortAudio device (def: the default one), or a
// sink or source of the sound server reached through the ALSA pulse plugin.
type side struct {
	pa     *pa.DeviceInfo
	def    bool
	server *serverDevice
}

func (sd side) name() string {
	if sd.server != nil {
		return sd.server.name
	}
	return sd.pa.Name
}

// resolver finds devices by name, asking the sound server (once) only when PortAudio has no
// device of exactly that name.
type resolver struct {
	srv     *soundServer
	devs    []serverDevice
	srvErr  error
	dialled bool
}

func (r *resolver) find(name string, input bool) (side, error) {
	if name == "" {
		d, err := findDevice("", input)
		return side{pa: d, def: true}, err
	}
	if d := findExact(name, input); d != nil {
		return side{pa: d}, nil
	}
	if !r.dialled {
		r.dialled = true
		if r.srv, r.srvErr = dialSoundServer(); r.srvErr == nil {
			if r.devs, r.srvErr = r.srv.devices(); r.srvErr != nil {
				r.srv.close()
				r.srv = nil
			}
		}
	}
	if r.srv != nil {
		sd, err := findServerDevice(r.devs, name, input)
		if err != nil {
			return side{}, err
		}
		if sd != nil {
			return side{server: sd}, nil
		}
	}
	d, err := findDevice(name, input)
	if err != nil && r.srv != nil {
		var names []string
		for _, sd := range r.devs {
			if sd.input == input {
				names = append(names, fmt.Sprintf("%q", sd.name))
			}
		}
		err = fmt.Errorf("%w, nor does the sound server (it has %s)", err, strings.Join(names, ", "))
	}
	return side{pa: d}, err
}

// close releases the server connection unless keep (a stream watches through it).
func (r *resolver) close(keep bool) {
	if r.srv != nil && !keep {
		r.srv.close()
	}
}

// findExact returns the PortAudio device called exactly name, or nil.
func findExact(name string, input bool) *pa.DeviceInfo {
	devs, err := pa.Devices()
	if err != nil {
		return nil
	}
	for _, d := range devs {
		if d.Name == name && ((input && d.MaxInputChannels > 0) || (!input && d.MaxOutputChannels > 0)) {
			return d
		}
	}
	return nil
}

// pulseDevice returns PortAudio's device for the ALSA pulse plugin, whose latencies suit
// streams on the sound server's devices; nil if PortAudio has none.
func pulseDevice() *pa.DeviceInfo {
	devs, err := pa.Devices()
	if err != nil {
		return nil
	}
	for _, d := range devs {
		if d.Name == "pulse" {
			return d
		}
	}
	return nil
}

func (d *Device) open(rate, frameSamples int) (*paStream, error) {
	var r resolver
	var inSide, outSide side
	var err error
	if d.in {
		if inSide, err = r.find(d.inName, true); err != nil {
			r.close(false)
			return nil, err
		}
	}
	if d.out {
		if outSide, err = r.find(d.outName, false); err != nil {
			r.close(false)
			return nil, err
		}
	}
	name := ""
	if d.in {
		name = inSide.name()
	}
	if d.out && name != outSide.name() {
		name = strings.TrimPrefix(name+" > "+outSide.name(), " > ")
	}
	s := newPAStream(name, rate, frameSamples, d.in, d.out, d.log)
	var fallbackRate int
	var plug *pa.DeviceInfo // found once a side needs it
	mk := func(sd side, input bool) *streamSide {
		if sd.server == nil {
			lat := sd.pa.DefaultLowOutputLatency
			if input {
				lat = sd.pa.DefaultLowInputLatency
			}
			fallbackRate = int(sd.pa.DefaultSampleRate)
			dev := sd.pa.Name
			if sd.def {
				dev = ""
			}
			return &streamSide{device: dev, latency: lat.Seconds()}
		}
		// The sound server's sink or source, through the ALSA pulse plugin.
		fallbackRate = sd.server.rate
		if plug == nil {
			plug = pulseDevice()
		}
		lat := 0.02
		if plug != nil {
			lat = plug.DefaultLowOutputLatency.Seconds()
			if input {
				lat = plug.DefaultLowInputLatency.Seconds()
			}
		}
		return &streamSide{pcm: pulsePCM(sd.server.name), latency: lat}
	}
	var in, out *streamSide
	if d.in {
		in = mk(inSide, true)
	}
	if d.out {
		out = mk(outSide, false)
	}
	// A duplex device is opened as two streams, capture and playback, each with its own
	// PortAudio thread (see splitDuplex); play is nil when one stream does all.
	openAt := func(devRate int) (main, play *cStream, err error) {
		if err := s.setDeviceRate(devRate); err != nil {
			return nil, nil, err
		}
		if !splitDuplex || in == nil || out == nil {
			main, err = openStream(in, out, devRate, s.devFrame)
			return main, nil, err
		}
		if main, err = openStream(in, nil, devRate, s.devFrame); err != nil {
			return nil, nil, err
		}
		if play, err = openStream(nil, out, devRate, s.devFrame); err != nil {
			main.Close()
			return nil, nil, err
		}
		return main, play, nil
	}
	if inSide.server == nil && outSide.server == nil {
		r.close(false)
	} else {
		// The stream keeps the server connection to watch its devices (startWatching).
		s.watchSrv = r.srv
		for _, sd := range []*serverDevice{inSide.server, outSide.server} {
			if sd != nil {
				s.watchDevs = append(s.watchDevs, *sd)
			}
		}
	}
	ok := false
	defer func() {
		if !ok && s.watchSrv != nil {
			s.watchSrv.close()
		}
	}()
	devRate := rate
	stream, play, err := openAt(devRate)
	if err != nil {
		// The device may not do the codec's rate: open it at its own and resample.
		devRate = fallbackRate
		if devRate == rate || devRate <= 0 {
			return nil, err
		}
		d.log.Info("audio device refused the codec rate; resampling", "device", name, "rate", rate, "device_rate", devRate, "err", err)
		var err2 error
		if stream, play, err2 = openAt(devRate); err2 != nil {
			return nil, fmt.Errorf("at %d Hz: %w; at the device's %d Hz: %w", rate, err, devRate, err2)
		}
	}
	s.use(stream, play)
	if err := s.startStreams(); err != nil {
		// A sound server that is still starting (or busy) can time out the first start: try
		// once more with fresh streams before giving up.
		s.closeStreams()
		d.log.Info("audio device did not start; retrying", "device", name, "err", err)
		if stream, play, err = openAt(devRate); err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
		s.use(stream, play)
		if err := s.startStreams(); err != nil {
			s.closeStreams()
			return nil, fmt.Errorf("start: %w", err)
		}
	}
	ok = true
	s.startWatching()
	inLat, outLat := stream.latency()
	if play != nil {
		_, outLat = play.latency()
	}
	d.log.Debug("audio device open", "device", name, "rate", rate, "device_rate", devRate,
		"host_in_ms", inLat.Milliseconds(), "host_out_ms", outLat.Milliseconds(),
		"alsa_jack_messages_hidden", quietedMessages()) // AudioDebugEnv shows them
	return s, nil
}

// Limits of the ring buffers, in frames of 20 ms.
const (
	paRingFrames = 32 // capacity: 640 ms
	paMaxQueued  = 8  // more than this queued (160 ms) and the oldest audio is dropped...
	paTrimTo     = 2  // ...down to this much
	paPlayPrebuf = 2  // playback waits for this much audio after an underrun
	// A queue that never fell below half a frame and a callback period over paTrimWindow frames
	// (1 s) is cut to half a frame: playback in the callback (callback.h), capture in Read. Audio that stood in a
	// ring for a whole second added its length to the delay (and to the echo path the canceller
	// must model) and never guarded against an underrun. Such a queue forms at the start, when
	// the device's first callbacks and the media loop's first frames meet, and slowly when the
	// sound card's clock runs slower or faster than the computer's.
	paTrimWindow = 50
	// PortAudio calls back paCallbackDiv times a frame. Its ALSA host buffers two periods each
	// way, so through the pulse plugin 10 ms periods take 40 ms off mouth-to-ear (20 ms of
	// host buffering each way instead of 40; bench TestMouthToEarSoundServer) for about 1 % of
	// a core more. With 20 ms periods the echo canceller kept the echo in every run; with
	// 10 ms it lost it in 2 of 6-10 runs of the PipeWire echo test until the standing-queue
	// trims learned to leave a swing of one period alone (hyst, callback.h): those runs had a
	// 10 ms trim a few seconds in, inside the measured span, which moved the echo path.
	paCallbackDiv  = 2
	paStartTimeout = 5 * time.Second
	paStallTimeout = 3 * time.Second // a loaded machine can starve the audio thread for 2 s
)

// paStream is an open PortAudio stream.
type paStream struct {
	name     string
	log      *slog.Logger
	rate     int
	frame    int // samples per frame at rate
	devRate  int
	devFrame int // samples per frame at devRate
	in, out  bool
	stream   *cStream
	// st is stream.st: the rings (capture: callback to Read; play: Write to callback) and the
	// callback's counters.
	st *cState
	// playStream, when not nil, is a separate playback stream (splitDuplex): Write then uses
	// playSt, its state, and stream only captures.
	playStream *cStream
	playSt     *cState
	started    time.Time    // when st started; its callback times count from here
	busy       atomic.Int32 // Reads and Writes in progress: Close frees st only when there are none

	// Owned by Read.
	inRes      *media.Resampler
	inDev      []int16
	inConv     []int16
	inMissing  atomic.Uint64
	inDropped  atomic.Uint64
	inStanding atomic.Uint64 // samples of capture dropped to keep the queue short
	inGaps     atomic.Uint64 // Reads filled with silence for want of audio, also before priming
	inWinN     int           // Reads into the current standing-queue window
	inWinLow   int           // least queued beyond what a Read took, in that window
	inPrimed   bool          // reading: false until the first Read that found enough
	inLeftSum  atomic.Uint64 // samples left queued after each Read that took a frame, summed
	inLeftN    atomic.Uint64 // and how many such Reads
	readFailed error

	// Owned by Write.
	outRes      *media.Resampler
	outConv     []int16
	outDropped  atomic.Uint64
	outQSum     atomic.Uint64 // samples queued for the speaker after each Write, summed
	outQN       atomic.Uint64 // and how many Writes
	writeFailed error

	// Set when the stream uses the sound server's sinks or sources: the connection to it, the
	// devices to watch, and, from the watcher, the error saying one of them disappeared.
	watchSrv  *soundServer
	watchDevs []serverDevice
	watchStop chan struct{}
	watchDone chan struct{}
	gone      atomic.Pointer[error]

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

// startWatching starts the goroutine that watches the stream's sound-server devices, if any. It
// ends when one of them disappears or the stream is closed.
func (s *paStream) startWatching() {
	if s.watchSrv == nil {
		return
	}
	if err := s.watchSrv.subscribe(); err != nil {
		// The 1 s check still runs.
		s.log.Debug("sound server refused to report device changes", "err", err)
	}
	s.watchStop, s.watchDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.watchDone)
		watchServerDevices(s.watchSrv, s.watchDevs, s.watchStop, func(err error) {
			s.gone.Store(&err)
			s.log.Info("audio device disappeared", "device", s.name, "err", err)
		})
	}()
}

func newPAStream(name string, rate, frame int, in, out bool, log *slog.Logger) *paStream {
	return &paStream{name: name, log: log, rate: rate, frame: frame, in: in, out: out}
}

// setDeviceRate sets the device's frame size and, if the device runs at another rate, makes the
// resamplers.
func (s *paStream) setDeviceRate(devRate int) error {
	s.devRate = devRate
	if s.frame*devRate%s.rate != 0 {
		return fmt.Errorf("cannot resample %d-sample frames at %d Hz to %d Hz", s.frame, s.rate, devRate)
	}
	s.devFrame = s.frame * devRate / s.rate
	if devRate != s.rate {
		var err error
		if s.inRes, err = media.NewResampler(devRate, s.rate); err != nil {
			return err
		}
		if s.outRes, err = media.NewResampler(s.rate, devRate); err != nil {
			return err
		}
		s.inDev = make([]int16, s.devFrame)
		s.inConv = make([]int16, 0, 2*s.frame)
		s.outConv = make([]int16, 0, 2*s.devFrame)
	}
	return nil
}

// use makes the streams' C states the ones Read and Write use and starts their clocks: a
// callback, which plays silence until then, moves audio from its next run on. play is a separate
// playback stream, or nil.
func (s *paStream) use(stream, play *cStream) {
	s.stream, s.st = stream, stream.st
	s.playStream, s.playSt = nil, nil
	if play != nil {
		s.playStream, s.playSt = play, play.st
		s.playSt.start()
	}
	s.st.start()
	s.started = time.Now()
}

// startStreams starts the callbacks of the stream and of the separate playback stream, if any.
func (s *paStream) startStreams() error {
	if err := s.stream.Start(); err != nil {
		return err
	}
	if s.playStream != nil {
		if err := s.playStream.Start(); err != nil {
			s.stream.Abort()
			return err
		}
	}
	return nil
}

// closeStreams closes the streams that were never handed to Read and Write.
func (s *paStream) closeStreams() {
	s.stream.Close()
	if s.playStream != nil {
		s.playStream.Close()
	}
}

// states returns the C states of the open streams: one, or two when playback is separate.
func (s *paStream) states() []*cState {
	if s.playSt != nil {
		return []*cState{s.st, s.playSt}
	}
	return []*cState{s.st}
}

// splitDuplex makes a device that both captures and plays open two PortAudio streams instead of
// one duplex stream. PortAudio's ALSA host runs a duplex stream's callback only when both
// directions have a period ready and otherwise polls again at once; through the ALSA pulse
// plugin (a sound server's devices, and "default" on a desktop) capture is level-ready while
// playback waits for the server's next request, so that poll returns at once for up to a
// server quantum per period: 1-95 % of a core depending on the phase the two fall into at start
// (docs/PERFORMANCE.md). Two streams each poll only their own direction. The rings between the
// callbacks and Read/Write never relied on the two directions sharing a callback.
const splitDuplex = true

// health returns an error once the device has stopped calling back: unplugged, or its sound
// server gone.
func (s *paStream) health() error {
	if s.closed.Load() {
		return fmt.Errorf("audio device %q: stream is closed", s.name)
	}
	if err := s.gone.Load(); err != nil {
		return *err
	}
	since := time.Since(s.started)
	if err := s.stalled(s.st, since); err != nil || s.playSt == nil {
		return err
	}
	return s.stalled(s.playSt, since)
}

// stalled returns an error if the callback of st has not run since the stream started (for
// longer than paStartTimeout) or has stopped running.
func (s *paStream) stalled(st *cState, since time.Duration) error {
	last := time.Duration(atomic.LoadInt64(st.last))
	if last == 0 {
		if since > paStartTimeout {
			return fmt.Errorf("audio device %q did not start: no audio from it in %v", s.name, paStartTimeout)
		}
		return nil
	}
	if gap := since - last; gap > paStallTimeout {
		return fmt.Errorf("audio device %q disappeared: no audio from it for %.1fs", s.name, gap.Seconds())
	}
	return nil
}

// Read returns the oldest captured frame, or silence if the device has not delivered one yet.
func (s *paStream) Read(p []int16) error {
	if s.readFailed != nil {
		clear(p)
		return s.readFailed
	}
	// Counted before health checks closed: once Close has seen no Read or Write in progress,
	// every later one finds the stream closed and leaves s.st alone.
	s.busy.Add(1)
	defer s.busy.Add(-1)
	if err := s.health(); err != nil {
		s.readFailed = err
		clear(p)
		return err
	}
	if !s.in {
		clear(p)
		return nil
	}
	need := len(p)
	if s.inRes != nil {
		if len(p) != s.frame {
			clear(p)
			return fmt.Errorf("audio device %q: read of %d samples, want one frame of %d", s.name, len(p), s.frame)
		}
		need = s.devFrame
	}
	capture := &s.st.capture
	queued := capture.len()
	if queued > paMaxQueued*s.devFrame {
		capture.discard(queued - paTrimTo*s.devFrame)
		s.inDropped.Add(1)
		queued = paTrimTo * s.devFrame
	} else if queued < need || !s.inPrimed && queued < need+s.captureSlack() {
		// Short: a gap in the microphone audio. The audio that was late is kept when it comes
		// (none is lost), so the queue then holds a frame more: the margin grows until the
		// callbacks' rhythm (a loaded machine delivers them in pairs) no longer leaves a Read
		// short, and the standing-queue trim takes back only margin that was never needed.
		// Dropping the late audio instead, to keep the microphone in step with the speaker,
		// took that margin away again: a gap every 150 ms on a loaded machine. At the start,
		// reading begins only with half a frame more than a Read takes.
		if s.inPrimed {
			s.inMissing.Add(1)
		}
		s.inGaps.Add(1)
		s.inWinN = 0 // nothing was standing
		clear(p)
		return nil
	}
	s.inPrimed = true
	s.trimStanding(capture, queued-need)
	s.inLeftSum.Add(uint64(max(capture.len()-need, 0)))
	s.inLeftN.Add(1)
	if s.inRes == nil {
		capture.read(p)
		return nil
	}
	capture.read(s.inDev)
	conv := s.inRes.Process(s.inConv[:0], s.inDev)
	n := copy(p, conv)
	clear(p[n:])
	return nil
}

var _ media.GapCounter = (*paStream)(nil)

// ReadGaps returns how many Reads were filled with silence because the device's audio had not
// come (media.GapCounter).
func (s *paStream) ReadGaps() uint64 { return s.inGaps.Load() }

// trimStanding notes that excess samples were queued beyond what this Read takes and, at the end
// of a window of paTrimWindow Reads, drops what stood beyond half a frame through all of it
// (paTrimWindow).
func (s *paStream) trimStanding(capture *ring, excess int) {
	if s.inWinN == 0 || excess < s.inWinLow {
		s.inWinLow = excess
	}
	if s.inWinN++; s.inWinN < paTrimWindow {
		return
	}
	// As the playback trim (callback.h): not for a swing of one callback period.
	if slack := s.captureSlack(); s.inWinLow > slack+s.devFrame/paCallbackDiv {
		capture.discard(s.inWinLow - slack)
		s.inStanding.Add(uint64(s.inWinLow - slack))
	}
	s.inWinN = 0
}

// Write queues one frame for the speaker. If the queue is full the frame is dropped.
func (s *paStream) Write(p []int16) error {
	if s.writeFailed != nil {
		return s.writeFailed
	}
	s.busy.Add(1) // as in Read
	defer s.busy.Add(-1)
	if err := s.health(); err != nil {
		s.writeFailed = err
		return err
	}
	if !s.out {
		return nil
	}
	data := p
	if s.outRes != nil {
		data = s.outRes.Process(s.outConv[:0], p)
	}
	st := s.st
	if s.playSt != nil {
		st = s.playSt
	}
	if n := st.play.write(data); n < len(data) {
		s.outDropped.Add(1)
	}
	s.outQSum.Add(uint64(st.play.len()))
	s.outQN.Add(1)
	return nil
}

// Close stops the device at once (without draining, which could hang on a vanished device) and
// releases PortAudio.
func (s *paStream) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.watchStop != nil {
			close(s.watchStop)
			<-s.watchDone
		} else if s.watchSrv != nil {
			s.watchSrv.close()
		}
		err := s.stream.Abort()
		if errors.Is(err, pa.StreamIsStopped) {
			err = nil
		}
		if s.playStream != nil {
			if perr := s.playStream.Abort(); err == nil && !errors.Is(perr, pa.StreamIsStopped) {
				err = perr
			}
		}
		var callbacks, underruns, overflows, playTrimmed, xruns uint64
		for _, st := range s.states() {
			xruns += atomic.LoadUint64(st.xruns)
			callbacks += atomic.LoadUint64(st.callbacks)
			underruns += atomic.LoadUint64(st.underruns)
			overflows += atomic.LoadUint64(st.overflows)
			playTrimmed += atomic.LoadUint64(st.trimmed)
		}
		// Ends when the Reads and Writes that started before closed was set return; they do not
		// block. Later ones see closed and do not touch s.st, which stream.Close frees.
		for s.busy.Load() != 0 {
			runtime.Gosched()
		}
		if cerr := s.stream.Close(); err == nil {
			err = cerr
		}
		if s.playStream != nil {
			if cerr := s.playStream.Close(); err == nil {
				err = cerr
			}
		}
		paRelease()
		if err != nil {
			s.closeErr = fmt.Errorf("close audio device %q: %w", s.name, err)
		}
		s.log.Debug("audio device closed", "device", s.name, "callbacks", callbacks,
			"play_underruns", underruns, "capture_overflows", overflows, "host_xruns", xruns,
			"read_missing", s.inMissing.Load(), "read_trimmed", s.inDropped.Load(), "write_dropped", s.outDropped.Load(),
			"play_trimmed_ms", playTrimmed*1000/uint64(s.devRate),
			"capture_standing_trimmed_ms", s.inStanding.Load()*1000/uint64(s.devRate),
			"capture_left_mean_ms", meanMS(s.inLeftSum.Load(), s.inLeftN.Load(), s.devRate),
			"play_queued_mean_ms", meanMS(s.outQSum.Load(), s.outQN.Load(), s.devRate))
	})
	return s.closeErr
}

// meanMS is the mean of n readings of samples at rate summing to sum, in milliseconds, one
// decimal.
func meanMS(sum, n uint64, rate int) float64 {
	if n == 0 || rate <= 0 {
		return 0
	}
	return float64(sum*10000/(n*uint64(rate))) / 10
}

// captureSlack is how much more than a Read takes the capture ring keeps queued: the margin for
// a callback that comes a little after the Read.
func (s *paStream) captureSlack() int { return s.devFrame / 2 }
