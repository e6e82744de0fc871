//go:build linux

package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
)

// appRound is what one count of concurrent calls measured.
type appRound struct {
	calls, clean   int
	p50, p99, max  float64 // the server's RTP send-interval deviation from 20 ms, ms
	packets        int
	expected       int     // packets the server sent in the capture window, about
	cpuPct         float64 // the server process, % of one core
	rssKiB         int
	worstSINAD     float64
	clicks, gaps   int
	stalls, missed int // calls that did not come up, recordings that failed
}

func (r appRound) holds() bool {
	// A capture that missed more than 5 % of the packets measured tshark, not trayphone.
	return r.clean == r.calls && r.stalls == 0 && r.missed == 0 && r.p99 <= 2 && r.packets*20 >= r.expected*19
}

// TestAppServer measures trayphone as a voice application server: a trayphone --app-server runs
// examples/auto-attendant, whose greeting (a 1004 Hz tone) every caller hears; a second
// trayphone --app-server places N concurrent PCMU calls to it and records what each hears
// (record-far). Per N: the calls whose whole recording is clean (audiotest.MeasureCall: SINAD >=
// 30 dB, no click, no gap), the server's RTP send-interval deviation from 20 ms (tshark on lo,
// p50/p99/max over every call's packets), and the server's CPU (% of one core) and memory.
// The largest N with every call clean and p99 <= 2 ms (over a capture that saw 95 % of the
// packets or more) holds. Run by bench/run.sh
// (TRAYPHONE_BENCH=1); TRAYPHONE_BENCH_APP_COUNTS (default "5,10,20,40"),
// TRAYPHONE_BENCH_APP_SECONDS (default 10); the table goes to TRAYPHONE_BENCH_APP_OUT.
func TestAppServer(t *testing.T) {
	if os.Getenv("TRAYPHONE_BENCH") == "" {
		t.Skip("benchmark: run bench/run.sh (TRAYPHONE_BENCH=1)")
	}
	counts := []int{5, 10, 20, 40}
	if s := os.Getenv("TRAYPHONE_BENCH_APP_COUNTS"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				t.Fatalf("TRAYPHONE_BENCH_APP_COUNTS: %q is not a count", f)
			}
			counts = append(counts, n)
		}
	}
	secs := 10
	if s := os.Getenv("TRAYPHONE_BENCH_APP_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	maxN := 0
	for _, n := range counts {
		maxN = max(maxN, n)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "trayphone")
	att := filepath.Join(dir, "auto-attendant")
	for _, b := range [][2]string{{bin, "trayphone"}, {att, "trayphone/examples/auto-attendant"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b[1], err, out)
		}
	}
	// The greeting lasts longer than any round's calls: callers hear it for the whole call.
	greeting := filepath.Join(dir, "greeting.wav")
	if err := audiotest.WriteTone(greeting, 1004, 0.5, 8000, float64(secs)+15+float64(maxN)/5); err != nil {
		t.Fatal(err)
	}
	server := startAppServer(t, bin, dir, "server", maxN+5)
	caller := startAppServer(t, bin, dir, "caller", maxN+5)
	attLog, _ := os.Create(filepath.Join(dir, "attendant.log"))
	ac := exec.Command(att, "--trayphone", bin, "--home", server.home, "--sales", "sip:nobody@127.0.0.1:9",
		"--greeting", greeting, "--timeout", "10m", "--tries", "1")
	ac.Stdout, ac.Stderr = attLog, attLog
	if err := ac.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ac.Process.Signal(syscall.SIGINT); _ = ac.Wait(); attLog.Close() })
	time.Sleep(time.Second) // the attendant follows the events

	var rounds []appRound
	for _, n := range counts {
		r := appServerRound(t, bin, dir, server, caller, n, time.Duration(secs)*time.Second)
		rounds = append(rounds, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| calls | clean calls | server RTP send p50 / p99 / max (ms) | server CPU (%% of a core) | CPU per call | server RSS | worst SINAD | packets captured | holds (all clean, p99 <= 2 ms) |\n|---|---|---|---|---|---|---|---|---|\n")
	largest := 0
	for _, r := range rounds {
		if r.holds() {
			largest = max(largest, r.calls)
		}
		fmt.Fprintf(&b, "| %d | %d | %.3f / %.3f / %.2f | %.1f | %.2f | %.1f MiB | %.1f dB | %d of ~%d | %v |\n", r.calls, r.clean, r.p50, r.p99, r.max,
			r.cpuPct, r.cpuPct/float64(r.calls), float64(r.rssKiB)/1024, r.worstSINAD, r.packets, r.expected, r.holds())
	}
	fmt.Fprintf(&b, "\nlargest count that holds: %d (of %v); %ds calls, PCMU, load average %s\n", largest, counts, secs, loadAvg())
	t.Log("\n" + b.String())
	if out := os.Getenv("TRAYPHONE_BENCH_APP_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// appServer is one trayphone --app-server process.
type appServer struct {
	t    *testing.T
	bin  string
	home string
	addr string
	cmd  *exec.Cmd
}

func startAppServer(t *testing.T, bin, dir, name string, maxCalls int) *appServer {
	t.Helper()
	s := &appServer{t: t, bin: bin, home: filepath.Join(dir, name)}
	if err := os.MkdirAll(s.home, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[sip]\nuser = \"" + name + "\"\n\n[audio]\ncodecs = [\"PCMU\"]\n"
	if err := os.WriteFile(filepath.Join(s.home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	s.addr = fmt.Sprintf("sip:%s@127.0.0.1:%d", name, port)
	logf, _ := os.Create(filepath.Join(dir, name+".log"))
	s.cmd = exec.Command(bin, "--home", s.home, "--app-server", "--max-calls", strconv.Itoa(maxCalls),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "warn")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		logf.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := s.cli("status"); err == nil {
			return s
		}
	}
	t.Fatalf("%s did not start", name)
	return nil
}

func (s *appServer) cli(args ...string) ([]byte, error) {
	return exec.Command(s.bin, append([]string{"--home", s.home}, args...)...).Output()
}

func (s *appServer) calls() []phone.CallInfo {
	out, err := s.cli("calls", "--json")
	if err != nil {
		s.t.Fatalf("calls: %v", err)
	}
	var cs []phone.CallInfo
	if err := json.Unmarshal(out, &cs); err != nil {
		s.t.Fatal(err)
	}
	return cs
}

// waitActive waits until s has n active calls, or returns how many it has after timeout.
func (s *appServer) waitActive(n int, timeout time.Duration) int {
	active := 0
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		active = 0
		for _, c := range s.calls() {
			if c.State == phone.CallActive {
				active++
			}
		}
		if active == n {
			return n
		}
	}
	return active
}

// appServerRound places n calls from caller to server, records each for d while measuring the
// server, judges the recordings and hangs up.
func appServerRound(t *testing.T, bin, dir string, server, caller *appServer, n int, d time.Duration) appRound {
	r := appRound{calls: n, worstSINAD: 999}
	for range n {
		if out, err := caller.cli("call", server.addr); err != nil {
			t.Fatalf("call: %v %s", err, out)
		}
	}
	got := caller.waitActive(n, 10*time.Second+time.Duration(n)*200*time.Millisecond)
	r.stalls = n - got
	server.waitActive(got, 5*time.Second)
	time.Sleep(time.Second) // every greeting plays

	pid := server.cmd.Process.Pid
	ports, err := UDPPorts(pid)
	if err != nil {
		t.Fatal(err)
	}
	filter := ports
	if len(filter) > 100 {
		filter = nil // a BPF filter of hundreds of ports fails: every UDP port, sorted out below
	}
	stop := capture(t, dir, filter)
	cpu0, _, _ := ThreadStats(pid)
	t0 := time.Now()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var files []string
	for i, c := range caller.calls() {
		if c.State != phone.CallActive {
			continue
		}
		f := filepath.Join(dir, fmt.Sprintf("n%d-call%d.wav", n, i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := caller.cli("record-far", c.ID, f, "--seconds", strconv.Itoa(int(d.Seconds()))); err != nil {
				mu.Lock()
				r.missed++
				mu.Unlock()
				return
			}
			mu.Lock()
			files = append(files, f)
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	cpu1, _, _ := ThreadStats(pid)
	r.cpuPct = 100 * float64(cpu1-cpu0) / float64(wall)
	if m, err := RSS(pid); err == nil {
		r.rssKiB = m.RSS
	}
	streams := stop()
	serverPort := map[int]bool{}
	for _, p := range ports {
		serverPort[p] = true
	}
	var jitter []float64
	for port, times := range streams {
		if !serverPort[port] {
			continue // the caller's packets
		}
		r.packets += len(times)
		jitter = append(jitter, SendJitter(times, 20*time.Millisecond)...)
	}
	r.p50, r.p99, r.max = Percentiles(jitter)
	// What the server must have sent while captured: a capture that lost packets (tshark behind
	// on a loaded machine) shows their absence as long intervals, so the table says how much
	// of the stream it saw.
	r.expected = int(wall / (20 * time.Millisecond) * time.Duration(got))

	for _, f := range files {
		s, rate, err := audiotest.ReadWAVMono(f)
		if err != nil {
			r.missed++
			continue
		}
		c, err := audiotest.MeasureCall(s, rate, 1004)
		if err != nil {
			t.Logf("%s: %v", filepath.Base(f), err)
			continue
		}
		r.worstSINAD = min(r.worstSINAD, c.SINADdB)
		r.clicks += c.Clicks
		r.gaps += c.Gaps
		if c.SINADdB >= 30 && c.Clicks == 0 && c.Gaps == 0 && c.End-c.Start >= d-time.Second {
			r.clean++
		} else {
			t.Logf("n=%d %s: %v", n, filepath.Base(f), c)
		}
	}
	for _, c := range caller.calls() {
		_, _ = caller.cli("hangup", c.ID)
	}
	caller.waitActive(0, 10*time.Second)
	server.waitActive(0, 10*time.Second)
	t.Logf("%d calls: %d clean, send p50 %.3f p99 %.3f max %.1f ms (%d packets), server cpu %.1f %%, %d not up, %d not recorded",
		n, r.clean, r.p50, r.p99, r.max, r.packets, r.cpuPct, r.stalls, r.missed)
	return r
}
