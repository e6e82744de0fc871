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
		o.toneHz = 1000
	}
	if err := audiotest.WriteTone(in, o.toneHz, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t, name)
	if o.logTo != nil {
		log = slog.New(slog.NewTextHandler(o.logTo, &slog.HandlerOptions{Level: slog.LevelInfo})).With("core", name)
	}
	dev, err := media.NewDevice(in, out, log)
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sipua.New(sipua.Config{Listen: "127.0.0.1:0", User: name, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := New(Config{UA: ua, Device: dev, Codecs: o.codecs, DND: o.dnd, CallWaiting: o.callWaiting,
		RingTimeout: o.ringTimeout, RTPTimeout: o.rtpTimeout, NAT: o.nat, ToneRegion: o.toneRegion, Log: log, Accounts: o.accounts, IncomingRingTimeout: o.ringIn,
		SteadySend: true}) // as the phone runs by default: calls long enough change over on this VM
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
	c := &core{t: t, name: name, ua: ua, mgr: mgr, events: ev, in: in, out: out}
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
	ca, err := a.mgr.Call(ctx(t), b.ua.AOR(), "")
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Answer(ctx(t), cb.ID); err != nil {
		t.Fatalf("answer: %v", err)
	}
	ca = a.waitState(5*time.Second, phone.CallActive)
	cb = b.waitState(5*time.Second, phone.CallActive)
	return ca, cb
}

// checkTone asserts the recording at path carries freq clearly (SNR ≥ minSNR over its active part).
func checkTone(t *testing.T, path string, freq, minSNR float64) {
	t.Helper()
	checkToneLast(t, path, freq, minSNR, 0)
}

// checkToneLast is checkTone on the last part of the active audio (0: all of it).
func checkToneLast(t *testing.T, path string, freq, minSNR float64, last time.Duration) {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	start, end := audiotest.ActiveSpan(s, rate, -40)
	if end-start < time.Second {
		t.Fatalf("%s: only %s of audio above -40 dBFS (of %s recorded)", filepath.Base(path), end-start,
			time.Duration(len(s))*time.Second/time.Duration(rate))
	}
	// Skip the first and last 200 ms of the active part: the jitter buffer fills and drains there.
	from := start + 200*time.Millisecond
	if last > 0 && end-last > from {
		from = end - last
	}
	mid := audiotest.Trim(s, rate, from, end-200*time.Millisecond)
	an := audiotest.Analyze(mid, rate)
	q := audiotest.MeasureTone(mid, rate, freq, 200*time.Millisecond)
	t.Logf("%s: %s; %s", filepath.Base(path), an, q)
	if d := an.DominantHz - freq; d > 5 || d < -5 {
		t.Errorf("%s: dominant frequency %.1f Hz, want %.0f Hz", filepath.Base(path), an.DominantHz, freq)
	}
	if an.RMSdBFS < -15 {
		t.Errorf("%s: level %.1f dBFS, want about -9 dBFS (a tone at half scale)", filepath.Base(path), an.RMSdBFS)
	}
	// The codec's quality shows in the median window; a loaded machine may spoil a few windows
	// with a late packet, but not most of them.
	if q.MedianSNR < minSNR || q.Clean < 0.8 {
		t.Errorf("%s: %s; want a median ≥ %.0f dB and ≥ 80%% clean windows", filepath.Base(path), q, minSNR)
	}
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
