//go:build linux

package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/testenv"
)

// peerResult is what one side of a benchmarked call measured.
type peerResult struct {
	cpuPct  float64 // of one core, over the measured window
	swPerS  float64 // context switches per second, all threads
	mem     Memory
	udpPort []int
}

// pairResult is one benchmarked call between two peers of one kind.
type pairResult struct {
	name          string
	a, b          peerResult
	p50, p99, max float64   // RTP send-interval jitter, ms, both directions
	jitter        []float64 // the deviations p50, p99 and max are taken from
	packets       int
	idleCPUPct    float64  // mean of the two processes before the call, % of one core (trayphone only)
	realtime      int      // processes that moved to real-time scheduling during the call (trayphone only)
	steady        int      // processes that changed over to steady send (trayphone only)
	steadyAt      []int64  // the ticks (20 ms) of the call at which they did
	loopSent      []int64  // per process, packets the media loop sent itself in steady send (the threads had passed their slot)
	threadsLate   []int64  // per process, packets the threads sent more than 0.5 ms late (both woke late)
	late          int      // send intervals off by more than 0.5 ms, both directions (firstPackets: 10 ms)
	lateAt        []string // firstPackets: when each interval over 10 ms off ended, s from its stream's first packet, and by how much
	together      int      // of them, those within 10 ms of one in the other process's stream
}

// steadyLine is the phone's log line at the change-over to steady send, with its tick.
var steadyLine = regexp.MustCompile(`packets now leave from two timer threads[^\n]*tick=(\d+)`)

// steadyEnd is its log line when steady send ends, with how many packets the loop sent itself
// and how many the threads sent over 0.5 ms late.
var steadyEnd = regexp.MustCompile(`steady send ended[^\n]*late_from_loop=(\d+) threads_late=(\d+)`)

// joinInts formats ns as "1, 2, 3".
func joinInts(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}

func benchDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 60 * time.Second
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		u.Close()
		if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// capture runs tshark on lo for the given UDP ports (every UDP port if none) until stop is
// called; stop returns the send times of RTP packets of 160-byte payloads (PCMU, 20 ms) grouped
// by source port.
func capture(t *testing.T, dir string, ports []int) (stop func() map[int][]float64) {
	t.Helper()
	bin := testenv.RequireProgram(t, "tshark")
	var f []string
	for _, p := range ports {
		f = append(f, "port "+strconv.Itoa(p))
	}
	filter := "udp"
	if len(f) > 0 {
		filter += " and (" + strings.Join(f, " or ") + ")"
	}
	file := filepath.Join(dir, "cap.pcapng")
	// -B: a 64 MiB capture buffer; the default 2 MiB drops packets at a hundred calls.
	cmd := exec.Command(bin, "-i", "lo", "-B", "64", "-q", "-f", filter, "-w", file)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// tshark says "Capturing on 'Loopback'" once it listens.
	for i := 0; i < 100 && !strings.Contains(errb.String(), "Capturing"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	return func() map[int][]float64 {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		out, err := exec.Command(bin, "-r", file, "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "udp.length").Output()
		if err != nil {
			t.Fatalf("tshark read: %v", err)
		}
		by := map[int][]float64{}
		for _, line := range strings.Split(string(out), "\n") {
			fs := strings.Fields(line)
			if len(fs) != 3 || fs[2] != "180" { // 8 UDP + 12 RTP + 160 PCMU
				continue
			}
			at, _ := strconv.ParseFloat(fs[0], 64)
			port, _ := strconv.Atoi(fs[1])
			by[port] = append(by[port], at)
		}
		return by
	}
}

// measure samples CPU and memory of pids over d while capturing their RTP.
func measure(t *testing.T, name, dir string, pids [2]int, d time.Duration) pairResult {
	t.Helper()
	r := pairResult{name: name}
	peers := [2]*peerResult{&r.a, &r.b}
	var ports []int
	for i, pid := range pids {
		p, err := UDPPorts(pid)
		if err != nil {
			t.Fatal(err)
		}
		peers[i].udpPort = p
		ports = append(ports, p...)
	}
	stop := capture(t, dir, ports)
	var cpu0 [2]time.Duration
	var sw0 [2]int64
	for i, pid := range pids {
		cpu0[i], sw0[i], _ = ThreadStats(pid)
	}
	t0 := time.Now()
	time.Sleep(d)
	wall := time.Since(t0)
	for i, pid := range pids {
		c, sw, err := ThreadStats(pid)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		peers[i].cpuPct = 100 * float64(c-cpu0[i]) / float64(wall)
		peers[i].swPerS = float64(sw-sw0[i]) / wall.Seconds()
		peers[i].mem, _ = RSS(pid)
	}
	streams := stop()
	for port, times := range streams {
		r.packets += len(times)
		r.jitter = append(r.jitter, SendJitter(times, 20*time.Millisecond)...)
		// The other process's stream, to tell the machine's hiccups from the process's.
		for p2, other := range streams {
			if p2 != port {
				late, both := Together(times, other, 20*time.Millisecond, 500*time.Microsecond, 10*time.Millisecond)
				r.late += late
				r.together += both
			}
		}
	}
	r.p50, r.p99, r.max = Percentiles(slices.Clone(r.jitter))
	t.Logf("%s: cpu %.3f %% / %.3f %%, %.0f / %.0f switches/s, jitter p50 %.3f p99 %.3f max %.3f ms, %d packets",
		name, r.a.cpuPct, r.b.cpuPct, r.a.swPerS, r.b.swPerS, r.p50, r.p99, r.max, r.packets)
	return r
}

// runTrayphonePair runs one call between two trayphone processes. Without fromFirst it measures
// d of the call from a second after answer (measure); with it, it captures from before the call
// is placed and takes each stream's first d from its first packet (firstPackets), CPU and memory
// not measured.
func runTrayphonePair(t *testing.T, dir string, d time.Duration, fromFirst bool) pairResult {
	bin := filepath.Join(dir, "trayphone")
	if out, err := exec.Command("go", "build", "-o", bin, "trayphone").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	type peer struct {
		home, in, out string
		port          int
		cmd           *exec.Cmd
	}
	cli := func(p *peer, args ...string) ([]byte, error) {
		return exec.Command(bin, append([]string{"--home", p.home}, args...)...).Output()
	}
	var peers [2]*peer
	for i, name := range []string{"a", "b"} {
		p := &peer{home: filepath.Join(dir, name), in: filepath.Join(dir, name+"-in.wav"), out: filepath.Join(dir, name+"-out.wav"), port: freeUDPPort(t)}
		if err := os.MkdirAll(p.home, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg := "[sip]\nuser = \"" + name + "\"\n\n[audio]\ncodecs = [\"PCMU\"]\n"
		if err := os.WriteFile(filepath.Join(p.home, "config.toml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := audiotest.WriteTone(p.in, 1000+200*float64(i), 0.5, 8000, (d + 20*time.Second).Seconds()); err != nil {
			t.Fatal(err)
		}
		logf, _ := os.Create(filepath.Join(dir, name+".log"))
		p.cmd = exec.Command(bin, "--home", p.home, "--headless", "--listen", fmt.Sprintf("127.0.0.1:%d", p.port),
			"--audio-in", p.in, "--audio-out", p.out, "--log-level", "info")
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = p.cmd.Process.Kill()
			}
			logf.Close()
		})
		peers[i] = p
	}
	waitFor := func(what string, f func() bool) {
		for range 200 {
			if f() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("trayphone pair: no %s", what)
	}
	for _, p := range peers {
		waitFor("control socket", func() bool { _, err := cli(p, "status"); return err == nil })
	}
	// The idle daemon's cost, so the call's own cost can be told apart from it.
	idle := min(10*time.Second, d/3)
	var idle0 [2]time.Duration
	for i, p := range peers {
		idle0[i], _, _ = ThreadStats(p.cmd.Process.Pid)
	}
	t0 := time.Now()
	time.Sleep(idle)
	var idlePct float64
	for i, p := range peers {
		c, _, _ := ThreadStats(p.cmd.Process.Pid)
		idlePct += 100 * float64(c-idle0[i]) / float64(time.Since(t0)) / 2
	}
	var stopCapture func() map[int][]float64
	if fromFirst {
		stopCapture = capture(t, dir, nil)
	}
	if out, err := cli(peers[0], "call", fmt.Sprintf("sip:b@127.0.0.1:%d", peers[1].port)); err != nil {
		t.Fatalf("call: %v %s", err, out)
	}
	state := func(p *peer) phone.CallState {
		out, err := cli(p, "calls", "--json")
		if err != nil {
			return phone.CallUnknown
		}
		var calls []phone.CallInfo
		if json.Unmarshal(out, &calls) != nil || len(calls) == 0 {
			return phone.CallUnknown
		}
		return calls[0].State
	}
	waitFor("incoming call", func() bool { return state(peers[1]) == phone.CallIncoming })
	if out, err := cli(peers[1], "answer"); err != nil {
		t.Fatalf("answer: %v %s", err, out)
	}
	waitFor("active call", func() bool { return state(peers[0]) == phone.CallActive })
	pids := [2]int{peers[0].cmd.Process.Pid, peers[1].cmd.Process.Pid}
	var r pairResult
	if fromFirst {
		time.Sleep(d + time.Second)
		r = firstPackets(t, "trayphone", pids, stopCapture(), d)
	} else {
		time.Sleep(time.Second)
		r = measure(t, "trayphone", dir, pids, d)
	}
	r.idleCPUPct = idlePct
	_, _ = cli(peers[0], "hangup")
	// Both calls ended: their sessions have closed and logged how steady send went.
	ended := func(p *peer) bool {
		out, err := cli(p, "calls", "--json")
		var calls []phone.CallInfo
		if err != nil || json.Unmarshal(out, &calls) != nil {
			return false
		}
		for _, c := range calls {
			if c.State != phone.CallEnded {
				return false
			}
		}
		return true
	}
	waitFor("both calls ended", func() bool { return ended(peers[0]) && ended(peers[1]) })
	for _, name := range []string{"a", "b"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".log"))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("real-time scheduling until the call ends")) {
			r.realtime++
		}
		if m := steadyLine.FindSubmatch(b); m != nil {
			r.steady++
			if n, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil {
				r.steadyAt = append(r.steadyAt, n)
			}
		}
		if m := steadyEnd.FindSubmatch(b); m != nil {
			loop, err1 := strconv.ParseInt(string(m[1]), 10, 64)
			late, err2 := strconv.ParseInt(string(m[2]), 10, 64)
			if err1 == nil && err2 == nil {
				r.loopSent = append(r.loopSent, loop)
				r.threadsLate = append(r.threadsLate, late)
			}
		}
	}
	return r
}

// runBaresipPair is runTrayphonePair for two baresip processes.
func runBaresipPair(t *testing.T, dir string, d time.Duration, fromFirst bool) pairResult {
	src := filepath.Join(dir, "baresip-src.wav")
	if err := audiotest.WriteTone(src, 1000, 0.5, 8000, (d + 20*time.Second).Seconds()); err != nil {
		t.Fatal(err)
	}
	a := baresip.Start(t, baresip.Options{User: "alice", Codecs: []string{"pcmu"}, SourceWAV: src})
	b := baresip.Start(t, baresip.Options{User: "bob", Codecs: []string{"pcmu"}, SourceWAV: src, AnswerMode: "auto"})
	var stopCapture func() map[int][]float64
	if fromFirst {
		stopCapture = capture(t, dir, nil)
	}
	if err := a.Dial(b.URI()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WaitEvent("CALL_ESTABLISHED", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pa, pb := FindPID("baresip", a.Dir()), FindPID("baresip", b.Dir())
	if pa == 0 || pb == 0 {
		t.Fatalf("baresip PIDs not found (%d, %d)", pa, pb)
	}
	var r pairResult
	if fromFirst {
		time.Sleep(d + time.Second)
		r = firstPackets(t, "baresip", [2]int{pa, pb}, stopCapture(), d)
	} else {
		time.Sleep(time.Second)
		r = measure(t, "baresip", dir, [2]int{pa, pb}, d)
	}
	_ = a.Hangup()
	return r
}

// firstPackets takes, of the captured streams sent from the UDP ports of pids, each stream's
// packets within d of its first one: the send intervals a call has from its very start.
func firstPackets(t *testing.T, name string, pids [2]int, streams map[int][]float64, d time.Duration) pairResult {
	t.Helper()
	r := pairResult{name: name}
	mine := map[int]bool{}
	for _, pid := range pids {
		ports, err := UDPPorts(pid)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			mine[p] = true
		}
	}
	n := 0
	for port, times := range streams {
		if !mine[port] || len(times) == 0 {
			continue
		}
		n++
		end := slices.IndexFunc(times, func(at float64) bool { return at-times[0] > d.Seconds() })
		if end < 0 {
			end = len(times)
		}
		r.packets += end
		j := SendJitter(times[:end], 20*time.Millisecond)
		r.jitter = append(r.jitter, j...)
		for i, v := range j {
			if v > 10 {
				r.lateAt = append(r.lateAt, fmt.Sprintf("%.2fs %+.0fms", times[i+1]-times[0], (times[i+1]-times[i])*1000-20))
			}
		}
	}
	if n != 2 {
		t.Fatalf("%s: %d RTP streams captured from the two processes' ports, want 2", name, n)
	}
	r.p50, r.p99, r.max = Percentiles(slices.Clone(r.jitter))
	for _, j := range r.jitter {
		if j > 10 {
			r.late++
		}
	}
	t.Logf("%s from the first packet: jitter p50 %.3f p99 %.3f max %.3f ms, %d intervals over 10 ms off, %d packets",
		name, r.p50, r.p99, r.max, r.late, r.packets)
	return r
}

// TestCompare runs PCMU calls between two trayphone processes and between two baresip
// processes, file audio both, and prints CPU per call, context switches, memory and RTP
// send-interval jitter side by side. The two kinds take turns (trayphone, baresip, trayphone, …)
// for TRAYPHONE_BENCH_ROUNDS rounds (default 3) so that a busy spell of a shared machine does
// not land on one side only; CPU and memory are the medians of the rounds, the jitter
// percentiles are over all rounds' packets. Run by bench/run.sh (TRAYPHONE_BENCH=1;
// TRAYPHONE_BENCH_SECONDS per call, default 60). With TRAYPHONE_BENCH_LOAD=N, N busy loops (one
// per core is a saturated machine) run alongside every call: what a call sounds like while the
// user's computer is building something.
func TestCompare(t *testing.T) {
	if os.Getenv("TRAYPHONE_BENCH") == "" {
		t.Skip("benchmark: run bench/run.sh (TRAYPHONE_BENCH=1)")
	}
	d := benchDuration()
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	load, _ := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_LOAD"))
	if load > 0 {
		busyLoops(t, load)
	}
	dir := t.TempDir()
	var tps, bss []pairResult
	for i := range rounds {
		tps = append(tps, runTrayphonePair(t, mkdir(t, filepath.Join(dir, fmt.Sprintf("tp%d", i))), d, false))
		bss = append(bss, runBaresipPair(t, mkdir(t, filepath.Join(dir, fmt.Sprintf("bs%d", i))), d, false))
	}
	type summary struct {
		cpu, sw, rss  float64
		anon          float64
		cpus          []string
		p50, p99, max float64
		packets       int
	}
	sum := func(rs []pairResult) summary {
		var s summary
		var cpu, sw, rss, anon, jit []float64
		for _, r := range rs {
			c := (r.a.cpuPct + r.b.cpuPct) / 2
			cpu = append(cpu, c)
			s.cpus = append(s.cpus, fmt.Sprintf("%.2f", c))
			sw = append(sw, (r.a.swPerS+r.b.swPerS)/2)
			rss = append(rss, float64(r.a.mem.RSS+r.b.mem.RSS)/2048)
			anon = append(anon, float64(r.a.mem.Anon+r.b.mem.Anon)/2048)
			jit = append(jit, r.jitter...)
			s.packets += r.packets
		}
		s.cpu, s.sw, s.rss, s.anon = Median(cpu), Median(sw), Median(rss), Median(anon)
		s.p50, s.p99, s.max = Percentiles(jit)
		return s
	}
	tp, bs := sum(tps), sum(bss)
	var idle []float64
	var rt, steady, tp99, bs99, tpLate []string
	for _, r := range tps {
		idle = append(idle, r.idleCPUPct)
		rt = append(rt, strconv.Itoa(r.realtime))
		at := make([]string, len(r.steadyAt))
		for i, n := range r.steadyAt {
			at[i] = fmt.Sprintf("%.1f s", float64(n)*0.02)
		}
		steady = append(steady, strconv.Itoa(r.steady)+" (into the call: "+strings.Join(at, ", ")+
			"; packets the loop sent itself, late for the threads: "+joinInts(r.loopSent)+
			"; packets the threads sent over 0.5 ms late, both woken late: "+joinInts(r.threadsLate)+")")
		_, p99, _ := Percentiles(r.jitter)
		tp99 = append(tp99, fmt.Sprintf("%.2f", p99))
		tpLate = append(tpLate, fmt.Sprintf("%d (%d)", r.late, r.together))
	}
	for _, r := range bss {
		_, p99, _ := Percentiles(r.jitter)
		bs99 = append(bs99, fmt.Sprintf("%.2f", p99))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "PCMU call, %v each, file audio, both peers on this machine; %d rounds, trayphone and baresip taking turns", d, rounds)
	if load > 0 {
		fmt.Fprintf(&b, "; %d busy loops running throughout (this machine has %d cores)", load, runtime.NumCPU())
	}
	fmt.Fprintf(&b, "\n\n")
	fmt.Fprintf(&b, "| measure | trayphone | baresip | ratio |\n|---|---|---|---|\n")
	row := func(name, unit string, x, y float64) {
		fmt.Fprintf(&b, "| %s | %.3g %s | %.3g %s | %.2f |\n", name, x, unit, y, unit, x/y)
	}
	row("CPU per call (% of one core per process, median of rounds)", "%", tp.cpu, bs.cpu)
	row("context switches per process per second (median of rounds)", "", tp.sw, bs.sw)
	row("RSS per process (median of rounds)", "MiB", tp.rss, bs.rss)
	row("of which anonymous (heap, stacks; the rest is the binary's and libraries' pages)", "MiB", tp.anon, bs.anon)
	row("RTP send-interval jitter p50", "ms", tp.p50, bs.p50)
	row("RTP send-interval jitter p99", "ms", tp.p99, bs.p99)
	row("RTP send-interval jitter max", "ms", tp.max, bs.max)
	fmt.Fprintf(&b, "\nCPU per round (%%): trayphone %s; baresip %s\n", strings.Join(tp.cpus, ", "), strings.Join(bs.cpus, ", "))
	fmt.Fprintf(&b, "send-interval jitter p99 per round (ms): trayphone %s; baresip %s\n", strings.Join(tp99, ", "), strings.Join(bs99, ", "))
	// Not for baresip: its intervals deviate by design (its timer polls), in both streams alike.
	// The bracketed count catches only stalls long enough to reach both processes' deadlines, which
	// sit at different phases; the steady-send line's counts of late packets say more.
	fmt.Fprintf(&b, "trayphone send intervals off by more than 0.5 ms, per round (in brackets: at the same moment as one in the other process's stream, a stall long enough to hold both up): %s\n",
		strings.Join(tpLate, ", "))
	fmt.Fprintf(&b, "trayphone processes that moved to real-time scheduling (busy computer), per round: %s of 2\n", strings.Join(rt, ", "))
	fmt.Fprintf(&b, "trayphone processes that changed over to steady send (late wake-ups), per round: %s of 2\n", strings.Join(steady, ", "))
	fmt.Fprintf(&b, "packets captured: trayphone %d, baresip %d\n", tp.packets, bs.packets)
	fmt.Fprintf(&b, "trayphone idle daemon before the call (%% of one core, median of rounds): %.3g %%\n", Median(idle))
	t.Log("\n" + b.String())
	if out := os.Getenv("TRAYPHONE_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// TestFirstPacketTiming measures RTP send timing from a call's very first packet: 10 s calls
// (TRAYPHONE_BENCH_FIRST_SECONDS) between two trayphone processes and between two baresip
// processes, taking turns for TRAYPHONE_BENCH_ROUNDS rounds, on the quiet machine and then with
// every CPU kept busy by a spinning loop, started a few seconds before the first call as a
// build would be. The capture starts before the call is placed; each stream counts from its own
// first packet. Targets (issue 12): p99 of |interval - 20 ms| <= 2 ms and no interval over 10 ms
// off, both ways. Run by bench/run.sh (TRAYPHONE_BENCH=1); the table goes to
// TRAYPHONE_BENCH_FIRST_OUT.
func TestFirstPacketTiming(t *testing.T) {
	if os.Getenv("TRAYPHONE_BENCH") == "" {
		t.Skip("benchmark: run bench/run.sh (TRAYPHONE_BENCH=1)")
	}
	d := 10 * time.Second
	if s, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_FIRST_SECONDS")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "PCMU calls of %v counted from each stream's first packet (tshark on lo, capture started before the call), both directions; %d rounds per condition, trayphone and baresip taking turns\n\n", d, rounds)
	fmt.Fprintf(&b, "| condition | measure | trayphone | baresip |\n|---|---|---|---|\n")
	var detail []string
	for _, load := range []int{0, runtime.NumCPU()} {
		cond := "quiet"
		if load > 0 {
			cond = fmt.Sprintf("%d CPUs kept busy", load)
			stop := busyLoopsUntil(t, load)
			time.Sleep(3 * time.Second) // busy for a while before the call, as with a build
			defer stop()
		}
		var tps, bss []pairResult
		for i := range rounds {
			tps = append(tps, runTrayphonePair(t, mkdir(t, filepath.Join(dir, fmt.Sprintf("f%d-tp%d", load, i))), d, true))
			bss = append(bss, runBaresipPair(t, mkdir(t, filepath.Join(dir, fmt.Sprintf("f%d-bs%d", load, i))), d, true))
		}
		pool := func(rs []pairResult) (p99, maxV float64, over int, per []string) {
			var all []float64
			for _, r := range rs {
				all = append(all, r.jitter...)
				over += r.late
				per = append(per, fmt.Sprintf("%.2f/%.1f", r.p99, r.max))
			}
			_, p99, maxV = Percentiles(all)
			return p99, maxV, over, per
		}
		tp99, tpMax, tpOver, tpPer := pool(tps)
		bs99, bsMax, bsOver, bsPer := pool(bss)
		fmt.Fprintf(&b, "| %s | send interval p99 of its deviation from 20 ms (target ≤ 2 ms) | %.3f ms | %.3f ms |\n", cond, tp99, bs99)
		fmt.Fprintf(&b, "| %s | worst interval off | %.2f ms | %.2f ms |\n", cond, tpMax, bsMax)
		fmt.Fprintf(&b, "| %s | intervals over 10 ms off (target 0) | %d | %d |\n", cond, tpOver, bsOver)
		rt := 0
		var at, lateAt []string
		for i, r := range tps {
			rt += r.realtime
			for _, n := range r.steadyAt {
				at = append(at, strconv.FormatInt(n, 10))
			}
			if len(r.lateAt) > 0 {
				lateAt = append(lateAt, fmt.Sprintf("round %d: %s", i+1, strings.Join(r.lateAt, ", ")))
			}
		}
		detail = append(detail, fmt.Sprintf("%s, per round p99/max ms: trayphone %s; baresip %s; trayphone processes in real-time scheduling: %d of %d; steady send from tick %s; trayphone intervals over 10 ms off (when, from the stream's first packet): %s",
			cond, strings.Join(tpPer, ", "), strings.Join(bsPer, ", "), rt, 2*rounds, strings.Join(at, ", "), strings.Join(lateAt, "; ")))
	}
	b.WriteString("\n" + strings.Join(detail, "\n") + "\n")
	t.Log("\n" + b.String())
	if out := os.Getenv("TRAYPHONE_BENCH_FIRST_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// busyLoopsUntil starts n spinning processes and returns what stops them (also done when the
// test ends).
func busyLoopsUntil(t *testing.T, n int) (stop func()) {
	t.Helper()
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, c := range cmds {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// busyLoops starts n processes that spin on a CPU each until the test ends.
func busyLoops(t *testing.T, n int) {
	t.Helper()
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
}

func mkdir(t *testing.T, d string) string {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
