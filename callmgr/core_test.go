package callmgr

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/internal/testenv"
	"trayphone/media"
)

// core is one trayphone core (user agent + call manager) running in the test process with file
// audio devices.
type core struct {
	t      *testing.T
	name   string
	ua     *sipua.UA
	mgr    *Manager
	events <-chan phone.Event
	in     string
	out    string
	stop   func()
	// heard keeps every audio payload the core's calls accepted, in arrival order.
	heard payloadLog
}

// payloadLog records received audio payloads, so a test can decode what the far end sent with
// a fresh decoder and tell the far end's faults from trayphone's.
type payloadLog struct {
	mu       sync.Mutex
	payloads [][]byte
}

func (l *payloadLog) add(_ uint16, p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.payloads = append(l.payloads, append([]byte(nil), p...))
}

// reference decodes the payloads in arrival order with a fresh decoder of codec and measures the
// tone in the result: what a perfect receiver would play of what was sent.
func (l *payloadLog) reference(t *testing.T, codec media.Codec, freq float64) audiotest.Call {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	dec := codec.NewDecoder()
	var pcm []int16
	for _, p := range l.payloads {
		out, err := dec.Decode(make([]int16, 0, 5760), p)
		if err != nil {
			t.Fatalf("reference decode: %v", err)
		}
		pcm = append(pcm, out...)
	}
	c, err := audiotest.MeasureCall(pcm, codec.SampleRate, freq)
	if err != nil {
		t.Fatalf("reference decode of %d packets: %v", len(l.payloads), err)
	}
	t.Logf("what was sent, decoded afresh: %v", c)
	return c
}

type coreOpts struct {
	toneHz      float64
	codecs      []media.Codec
	dnd         bool
	callWaiting bool
	ringTimeout time.Duration
	rtpTimeout  time.Duration
	nat         NAT
	toneRegion  string
	accounts    Accounts
	ringIn      time.Duration // IncomingRingTimeout
	// beforeStart runs after the manager is made and before the user agent starts (handlers
	// may be added only then).
	beforeStart func(*sipua.UA, *Manager)
	logTo       io.Writer // also gets the core's log, as text
	// device replaces the core's file audio device (its in/out files are then unused).
	device media.Device
	// defaultDevice is where calls go when their device disappears (nil: the system default,
	// as the phone builds it).
	defaultDevice media.Device
	// history is the core's call history store (nil: none).
	history  HistoryStore
	logDebug bool // logTo gets debug lines too
	// mediaEnc and sdesOverUDP are [sip] media_encryption and sdes_over_udp (srtp.go).
	mediaEnc    string
	sdesOverUDP bool
	srtpSuites  []string
	dtlsTimeout time.Duration // DTLSTimeout (dtls.go)
	// noDTLS is NoDTLS: SDES keys only. A core behind a fake NAT (nat set) has it too: its SDP
	// names an unreachable public address (198.51.100.x) and its tests are about latching,
	// which cannot open a DTLS association (SECURITY.md, known gaps).
	noDTLS bool
	// rtpPorts, if set, is the first of 10 ports the core's calls take their RTP from.
	rtpPorts int
	// recordDir and recordCalls are Config.RecordDir and RecordCalls (record.go).
	recordDir   string
	recordCalls bool
	autoAnswer  AutoAnswer
	// screen, voicemail and voicemailAfter are Config.Screen, Voicemail and VoicemailAfter.
	screen         Screener
	voicemail      AnsweringMachine
	voicemailAfter time.Duration
	// transferScreen is Config.TransferScreen.
	transferScreen TransferScreen
	// presence and watched are Config.Presence and Watched.
	presence Presence
	watched  []phone.FavoriteState
	// appServer and maxCalls are Config.AppServer and MaxCalls.
	appServer bool
	maxCalls  int
}

func testLogger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("TRAYPHONE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("core", name)
	}
	// Keep the log and show it only when the test fails: flaky failures on a loaded CI machine
	// then come with their story.
	buf := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", name, buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("core", name)
}

func startCore(t *testing.T, name string, o coreOpts) *core {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, name+"-in.wav")
	out := filepath.Join(dir, name+"-out.wav")
	if o.toneHz == 0 {
		o.toneHz = 1004
	}
	if err := audiotest.WriteTone(in, o.toneHz, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t, name)
	if o.logTo != nil {
		level := slog.LevelInfo
		if o.logDebug {
			level = slog.LevelDebug
		}
		log = slog.New(slog.NewTextHandler(o.logTo, &slog.HandlerOptions{Level: level})).With("core", name)
	}
	dev, err := media.NewDevice(in, out, log)
	if err != nil {
		t.Fatal(err)
	}
	if o.device != nil {
		dev = o.device
	}
	def := o.defaultDevice
	if def == nil {
		if def, err = media.NewDevice("default", "default", log); err != nil {
			def = media.NewUnavailable("default", err)
		}
	}
	ua, err := sipua.New(sipua.Config{Listen: "127.0.0.1:0", User: name, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	c := &core{t: t, name: name, ua: ua, in: in, out: out}
	mgr, err := New(Config{UA: ua, Device: dev, DefaultDevice: def, Codecs: o.codecs, DND: o.dnd, CallWaiting: o.callWaiting,
		RingTimeout: o.ringTimeout, RTPTimeout: o.rtpTimeout, History: o.history, NAT: o.nat, ToneRegion: o.toneRegion, Log: log, Accounts: o.accounts, IncomingRingTimeout: o.ringIn,
		MediaEncryption: o.mediaEnc, SDESOverUDP: o.sdesOverUDP, SRTPSuites: o.srtpSuites, DTLSTimeout: o.dtlsTimeout, NoDTLS: o.noDTLS || o.nat != nil, RTPPortMin: o.rtpPorts, RTPPortMax: o.rtpPorts + 9*min(o.rtpPorts, 1),
		RecordDir: o.recordDir, RecordCalls: o.recordCalls, AutoAnswer: o.autoAnswer,
		Screen: o.screen, Voicemail: o.voicemail, VoicemailAfter: o.voicemailAfter, Presence: o.presence, Watched: o.watched,
		TransferScreen: o.transferScreen, AppServer: o.appServer, MaxCalls: o.maxCalls,
		SteadySend:     true, // as the phone runs by default: calls long enough change over on this VM
		Realtime:       true, // likewise: a busy machine (CI runs the packages side by side) gets it at once
		SessionOptions: []media.Option{media.WithReceiveObserver(c.heard.add)}})
	if err != nil {
		t.Fatal(err)
	}
	ev, unsub := mgr.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	if o.beforeStart != nil {
		o.beforeStart(ua, mgr)
	}
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Run(ctx) }()
	c.mgr, c.events = mgr, ev
	c.stop = func() {
		cancel()
		select {
		case <-mgr.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("%s: manager did not stop within 5 s", name)
		}
		unsub()
		ua.Close()
	}
	t.Cleanup(c.stop)
	return c
}

// wait returns the first call event for which ok holds, failing the test after timeout.
func (c *core) wait(timeout time.Duration, what string, ok func(phone.CallInfo) bool) phone.CallInfo {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, open := <-c.events:
			if !open {
				c.t.Fatalf("%s: event stream closed while waiting for %s", c.name, what)
			}
			if ev.Type == phone.EventCall && ev.Call != nil && ok(*ev.Call) {
				return *ev.Call
			}
		case <-deadline:
			c.t.Fatalf("%s: no %s within %s; status: %+v", c.name, what, timeout, c.mgr.Status())
		}
	}
}

func (c *core) waitState(timeout time.Duration, st phone.CallState) phone.CallInfo {
	c.t.Helper()
	return c.wait(timeout, st.String()+" call", func(ci phone.CallInfo) bool { return ci.State == st })
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// established places a call from a to b and answers it.
func established(t *testing.T, a, b *core) (phone.CallInfo, phone.CallInfo) {
	t.Helper()
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatalf("call: %v", err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Answer(ctx(t), cb.ID); err != nil {
		t.Fatalf("answer: %v", err)
	}
	ca := a.waitState(5*time.Second, phone.CallActive)
	cb = b.waitState(5*time.Second, phone.CallActive)
	return ca, cb
}

// checkTone asserts the recording at path carries freq cleanly over the whole call
// (audiotest.MeasureCall): whole-call SINAD >= minSINAD, no click, no near-silent gap, and no
// sample above the level sent (a tone at half scale) + 1 dB.
func checkTone(t *testing.T, path string, freq, minSINAD float64) {
	t.Helper()
	checkToneLast(t, path, freq, minSINAD, 0)
}

// checkToneLast is checkTone on the last part of the tone (0: all of it): for calls whose audio
// changes path or pauses on purpose (hold, a relay switch), the span after the change.
func checkToneLast(t *testing.T, path string, freq, minSINAD float64, last time.Duration) {
	t.Helper()
	judgeTone(t, path, freq, minSINAD, last, 0)
}

// checkToneFrom is checkTone on what c heard, allowing only the clicks that are in what the far
// end sent (its payloads decoded afresh: an encoder's mode switch, say), so trayphone adds none.
func checkToneFrom(t *testing.T, c *core, codec media.Codec, freq, minSINAD float64) {
	t.Helper()
	ref := c.heard.reference(t, codec, freq)
	judgeTone(t, c.out, freq, minSINAD, 0, ref.Clicks)
}

func judgeTone(t *testing.T, path string, freq, minSINAD float64, last time.Duration, sentClicks int) {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if last > 0 {
		_, end := audiotest.ActiveSpan(s, rate, -40)
		s = audiotest.Trim(s, rate, end-last-200*time.Millisecond, end+200*time.Millisecond)
	}
	c, err := audiotest.MeasureCall(s, rate, freq)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	t.Logf("%s: %v", filepath.Base(path), c)
	if min := min(time.Second, last-400*time.Millisecond); last > 0 && c.End-c.Start < min || last == 0 && c.End-c.Start < time.Second {
		t.Errorf("%s: only %s of the tone", filepath.Base(path), c.End-c.Start)
	}
	var problems []string
	if c.SINADdB < minSINAD || c.Clicks > sentClicks || c.Gaps > 0 {
		problems = append(problems, fmt.Sprintf("%s: whole-call SINAD %.1f dB, %d clicks (%d in what was sent), %d gaps; want >= %.0f dB, none added, none",
			filepath.Base(path), c.SINADdB, c.Clicks, sentClicks, c.Gaps, minSINAD))
	}
	if max := audiotest.DBFS(0.5) + 1; c.PeakDBFS > max {
		problems = append(problems, fmt.Sprintf("%s: peak %.1f dBFS at %s, want <= %.1f dBFS (the tone sent + 1 dB)", filepath.Base(path), c.PeakDBFS, c.PeakAt, max))
	}
	if len(problems) == 0 {
		return
	}
	if n := disturbance(t); n > 0 {
		// The machine, not the phone: on a loopback link nothing is lost or late unless the
		// computer held a goroutine up. What the call sounds like then says nothing about
		// trayphone; a quieter run of the suite judges it.
		t.Skipf("this machine disturbed the call (%d skipped ticks, late or concealed frames on loopback): %s", n, strings.Join(problems, "; "))
	}
	for _, p := range problems {
		t.Error(p)
	}
}

var (
	disturbedMu sync.Mutex
	disturbedBy = map[string]uint64{} // test name → what logMedia counted
)

// disturbance returns what logMedia counted for t's calls.
func disturbance(t *testing.T) uint64 {
	disturbedMu.Lock()
	defer disturbedMu.Unlock()
	return disturbedBy[t.Name()]
}

// logMedia logs the media counters of the cores' calls: what the machine did to a call (stalls,
// late packets) shows there when its audio is judged.
// On a loopback call, stalls, late and concealed frames can only be the machine's doing; they are
// kept for judgeTone.
func logMedia(t *testing.T, cores ...*core) {
	t.Helper()
	var n uint64
	for _, c := range cores {
		for _, ci := range c.mgr.Status().Calls {
			m := ci.Media
			t.Logf("%s call %s: received %d, lost %d, late %d, concealed %d, delay changes %d, stalls %d, jitter %.1f ms",
				c.name, ci.ID, m.PacketsReceived, m.PacketsLost, m.Late, m.Concealed, m.DelayChanges, m.Stalls, m.JitterMS)
			n += m.Stalls + m.Late + m.Concealed
		}
	}
	disturbedMu.Lock()
	disturbedBy[t.Name()] += n
	disturbedMu.Unlock()
}

// checkGoroutines fails t if goroutines started by the test are still running shortly after it.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		var n int
		for i := 0; i < 100; i++ {
			n = runtime.NumGoroutine()
			if n <= before {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before, %d after the test\n%s", before, n, leakReport(buf))
	})
}

func leakReport(stacks []byte) string {
	var out []string
	for _, g := range strings.Split(string(stacks), "\n\n") {
		if strings.Contains(g, "trayphone/") || strings.Contains(g, "sipgo") {
			out = append(out, g)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n\n"))
}
