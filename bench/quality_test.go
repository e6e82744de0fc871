//go:build linux

package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/siptest/netns"
)

// What a listener hears, trayphone and baresip side by side: each call carries a tone each way
// (604 Hz from the caller, 1004 Hz from the callee, half scale) and each side's recording of
// what it played is judged over the whole call with audiotest.MeasureCall: SINAD, clicks (10 ms
// blocks with a residual above -25 dB re the tone), near-silent gaps and the peak sample. The
// pairs: trayphone ↔ trayphone, baresip ↔ baresip, and trayphone ↔ baresip both ways, for each
// codec on a clean loopback link; then PCMU and Opus under random loss in a network namespace,
// trayphone ↔ trayphone against baresip ↔ baresip (iptables drops that share of the RTP; this
// kernel has no netem, so there is no jitter here: the media tests' relay adds 0-30 ms).

const (
	qualityCaller = 604.0
	qualityCallee = 1004.0
)

// qualitySIPPorts are the SIP ports in the loss namespace: two trayphones, two baresips (each
// baresip also binds the port after its own). Loss spares them: SIP retransmits, and the table
// is about the audio.
var qualitySIPPorts = []int{20000, 20010, 25060, 25061, 25062, 25063}

// qualityRow is one line of the table: a path, what it was measured on, the two directions'
// whole-call figures.
type qualityRow struct {
	path, codec, link string
	calls             []audiotest.Call
	err               error
}

func (r qualityRow) cells() string {
	if r.err != nil {
		return fmt.Sprintf("| %s | %s | %s | failed: %v | | | |", r.path, r.codec, r.link, r.err)
	}
	sinad, clicks, gaps, peak := 1e9, 0, 0, -1e9
	for _, c := range r.calls {
		sinad = min(sinad, c.SINADdB)
		clicks += c.Clicks
		gaps += c.Gaps
		peak = max(peak, c.PeakDBFS)
	}
	return fmt.Sprintf("| %s | %s | %s | %.1f | %d | %d | %.1f |", r.path, r.codec, r.link, sinad, clicks, gaps, peak)
}

// tpPeer is one trayphone daemon of the bench.
type tpPeer struct {
	t         *testing.T
	bin, home string
	out       string
	addr      string // SIP host:port
	cmd       *exec.Cmd
}

func startTP(t *testing.T, bin, dir, name string, tone float64, codec, ns, ip string, port int) *tpPeer {
	t.Helper()
	home := filepath.Join(dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(home, "in.wav")
	if err := audiotest.WriteTone(in, tone, 0.5, 8000, 90); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[sip]\nuser = %q\n\n[audio]\ncodecs = [%q]\n", name, codec)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &tpPeer{t: t, bin: bin, home: home, out: filepath.Join(home, "heard.wav")}
	if port == 0 {
		port = freeUDPPort(t)
	}
	p.addr = net.JoinHostPort(ip, strconv.Itoa(port))
	args := []string{"--home", home, "--headless", "--listen", p.addr, "--audio-in", in, "--audio-out", p.out}
	p.cmd = exec.Command(bin, args...)
	if ns != "" {
		p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	}
	logf, _ := os.Create(filepath.Join(dir, name+".log"))
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(); logf.Close() })
	for range 200 {
		if _, err := p.cli("status"); err == nil {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("trayphone %s did not start", name)
	return nil
}

func (p *tpPeer) cli(args ...string) (string, error) {
	out, err := exec.Command(p.bin, append([]string{"--home", p.home}, args...)...).CombinedOutput()
	return string(out), err
}

// stop asks the daemon to quit and waits (its recording is complete then).
func (p *tpPeer) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_, _ = p.cli("quit")
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// waitActive waits until p has an active call.
func (p *tpPeer) waitActive() error {
	for range 100 {
		if out, err := p.cli("status"); err == nil && strings.Contains(out, "active") {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no active call")
}

func measureFile(path string, freq float64) (audiotest.Call, error) {
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		return audiotest.Call{}, err
	}
	return audiotest.MeasureCall(s, rate, freq)
}

// tpPair calls from a new trayphone to another for d and measures both recordings.
func tpPair(t *testing.T, bin, dir, codec, ns, ip string, d time.Duration) ([]audiotest.Call, error) {
	pa, pb := 0, 0
	if ns != "" {
		pa, pb = qualitySIPPorts[0], qualitySIPPorts[1]
	}
	a := startTP(t, bin, dir, "a", qualityCaller, codec, ns, ip, pa)
	b := startTP(t, bin, dir, "b", qualityCallee, codec, ns, ip, pb)
	if out, err := a.cli("call", "sip:b@"+b.addr); err != nil {
		return nil, fmt.Errorf("call: %v %s", err, out)
	}
	for range 100 {
		if out, _ := b.cli("status"); strings.Contains(out, "incoming") || strings.Contains(out, "ringing") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := b.cli("answer"); err != nil {
		return nil, fmt.Errorf("answer: %v %s", err, out)
	}
	if err := a.waitActive(); err != nil {
		return nil, err
	}
	time.Sleep(d)
	_, _ = a.cli("hangup")
	time.Sleep(300 * time.Millisecond)
	a.stop()
	b.stop()
	return measureBoth(a.out, b.out)
}

// measureBoth measures what the caller heard (the callee's tone) and what the callee heard.
func measureBoth(callerHeard, calleeHeard string) ([]audiotest.Call, error) {
	ca, err := measureFile(callerHeard, qualityCallee)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(callerHeard), err)
	}
	cb, err := measureFile(calleeHeard, qualityCaller)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(calleeHeard), err)
	}
	return []audiotest.Call{ca, cb}, nil
}

// bsOpts are baresip options for the bench: codec first, the tone, and where it runs.
func bsOpts(t *testing.T, user string, tone float64, codec string, ns *netns.Net, sip, ctrl uint16) baresip.Options {
	o := baresip.Options{User: user, ToneHz: tone, Codecs: []string{strings.ToLower(codec)}, AnswerMode: "auto"}
	if ns != nil {
		o.NetNS, o.BindIP, o.SIPPort, o.CtrlPort = ns.WAN, ns.WANIP.String(), sip, ctrl
		o.Dial = func(network, addr string) (c net.Conn, err error) {
			ns.Do(t, ns.WAN, func() { c, err = net.DialTimeout(network, addr, time.Second) })
			return c, err
		}
	}
	return o
}

// bsPair calls from one baresip to another for d and measures both decode recordings.
func bsPair(t *testing.T, codec string, ns *netns.Net, d time.Duration) ([]audiotest.Call, error) {
	a := baresip.Start(t, bsOpts(t, "alice", qualityCaller, codec, ns, uint16(qualitySIPPorts[2]), 25070))
	b := baresip.Start(t, bsOpts(t, "bob", qualityCallee, codec, ns, uint16(qualitySIPPorts[4]), 25072))
	if err := a.Dial(b.URI()); err != nil {
		return nil, err
	}
	if _, err := a.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(d)
	_ = a.Hangup()
	if _, err := b.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(300 * time.Millisecond)
	return measureBoth(a.RecordedReceived(), b.RecordedReceived())
}

// mixedPair has a trayphone call a baresip (which answers) for d; it measures what trayphone
// heard (baresip → trayphone) and what baresip heard (trayphone → baresip) separately.
func mixedPair(t *testing.T, bin, dir, codec string, d time.Duration) (bsToTP, tpToBS []audiotest.Call, err error) {
	b := baresip.Start(t, bsOpts(t, "bob", qualityCallee, codec, nil, 0, 0))
	a := startTP(t, bin, dir, "a", qualityCaller, codec, "", "127.0.0.1", 0)
	if out, err := a.cli("call", b.URI()); err != nil {
		return nil, nil, fmt.Errorf("call: %v %s", err, out)
	}
	if err := a.waitActive(); err != nil {
		return nil, nil, err
	}
	time.Sleep(d)
	_, _ = a.cli("hangup")
	if _, err := b.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		return nil, nil, err
	}
	time.Sleep(300 * time.Millisecond)
	a.stop()
	ca, err := measureFile(a.out, qualityCallee)
	if err != nil {
		return nil, nil, err
	}
	cb, err := measureFile(b.RecordedReceived(), qualityCaller)
	if err != nil {
		return nil, nil, err
	}
	return []audiotest.Call{ca}, []audiotest.Call{cb}, nil
}

// TestAudioQuality prints the table of what a listener hears (bench/run.sh; TRAYPHONE_BENCH=1,
// TRAYPHONE_BENCH_QUALITY_SECONDS per call, default 8, the table to TRAYPHONE_BENCH_QUALITY_OUT).
func TestAudioQuality(t *testing.T) {
	if os.Getenv("TRAYPHONE_BENCH") == "" {
		t.Skip("benchmark: run bench/run.sh (TRAYPHONE_BENCH=1)")
	}
	d := 8 * time.Second
	if s, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_QUALITY_SECONDS")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "trayphone")
	if out, err := exec.Command("go", "build", "-o", bin, "trayphone").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sub := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var rows []qualityRow
	// Each pair runs in a subtest of its own, so its peers are gone before the next starts.
	pair := func(name string, f func(t *testing.T)) {
		t.Run(name, f)
	}
	for _, codec := range []string{"PCMU", "G722", "opus"} {
		pair("tp-"+codec, func(t *testing.T) {
			calls, err := tpPair(t, bin, sub("tp-"+codec), codec, "", "127.0.0.1", d)
			rows = append(rows, qualityRow{"trayphone ↔ trayphone", codec, "clean", calls, err})
		})
		pair("bs-"+codec, func(t *testing.T) {
			calls, err := bsPair(t, codec, nil, d)
			rows = append(rows, qualityRow{"baresip ↔ baresip", codec, "clean", calls, err})
		})
		pair("mixed-"+codec, func(t *testing.T) {
			in, out, err := mixedPair(t, bin, sub("mixed-"+codec), codec, d)
			rows = append(rows, qualityRow{"baresip → trayphone", codec, "clean", in, err})
			rows = append(rows, qualityRow{"trayphone → baresip", codec, "clean", out, err})
		})
	}
	n := netns.Up(t, netns.Options{})
	for _, codec := range []string{"PCMU", "opus"} {
		for _, loss := range []float64{0.01, 0.05, 0.10, 0.20} {
			link := fmt.Sprintf("%.0f %% loss", loss*100)
			n.MustRun(t, n.WAN, "iptables", "-F", "INPUT")
			var sip []string
			for _, p := range qualitySIPPorts {
				sip = append(sip, strconv.Itoa(p))
			}
			n.MustRun(t, n.WAN, "iptables", "-A", "INPUT", "-p", "udp", "-m", "multiport", "!", "--dports", strings.Join(sip, ","),
				"-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(loss, 'f', 2, 64), "-j", "DROP")
			name := fmt.Sprintf("%s-%.0f", codec, loss*100)
			pair("loss-tp-"+name, func(t *testing.T) {
				calls, err := tpPair(t, bin, sub("loss-tp-"+name), codec, n.WAN, n.WANIP.String(), d)
				rows = append(rows, qualityRow{"trayphone ↔ trayphone", codec, link, calls, err})
			})
			pair("loss-bs-"+name, func(t *testing.T) {
				calls, err := bsPair(t, codec, n, d)
				rows = append(rows, qualityRow{"baresip ↔ baresip", codec, link, calls, err})
			})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%.0f s calls, a tone each way (%.0f and %.0f Hz at -6 dBFS), each direction judged over the whole call; the worse direction's SINAD, both directions' clicks and gaps, the higher peak\n\n",
		d.Seconds(), qualityCaller, qualityCallee)
	b.WriteString("| path | codec | link | SINAD dB | clicks | gaps | peak dBFS |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r.cells() + "\n")
		t.Log(r.cells())
	}
	if out := os.Getenv("TRAYPHONE_BENCH_QUALITY_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
