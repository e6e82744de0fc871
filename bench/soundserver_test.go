//go:build linux

package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/testenv"
)

// Mouth-to-ear through the sound server: what a caller's voice takes from A's microphone to B's
// speaker when both phones use the sound server as a desktop would. The private PipeWire
// (testenv.StartPipeWire) gets two more null sinks: "mouth", whose monitor is A's microphone,
// and "ear", B's speaker. pw-play plays a 20 ms 1 kHz burst every 0.5 s into mouth; one
// pw-record stream with two channels, linked to mouth's and ear's monitors in the same graph
// (so both channels are sampled by the same clock at the same instants), records what went in
// and what came out. The delay between a burst's onset in the two channels is the mouth-to-ear
// delay: A's capture through the server (pulse plugin, PortAudio), A's pipeline, RTP over
// loopback, B's jitter buffer and pipeline, B's playback through the server. The recorder's own
// latency is in both channels alike and cancels.
const (
	m2eBurstEvery = 500 * time.Millisecond
	m2eBurstLen   = 20 * time.Millisecond
	m2eRate       = 48000
)

// m2eSinks loads the mouth and ear null sinks into the running private PipeWire.
func m2eSinks(t *testing.T) {
	t.Helper()
	for _, name := range []string{"mouth", "ear"} {
		out, err := exec.Command("pactl", "load-module", "module-null-sink", "sink_name="+name, "object.linger=1",
			"media.class=Audio/Sink", "channel_map=mono", "rate=48000").CombinedOutput()
		if err != nil {
			t.Fatalf("null sink %s: %v %s", name, err, out)
		}
	}
}

// m2eBursts writes the microphone's sound: silence for a second, then a burst every
// m2eBurstEvery, for d.
func m2eBursts(t *testing.T, path string, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * m2eRate)
	s := make([]int16, n)
	every, burst := int(m2eBurstEvery.Seconds()*m2eRate), int(m2eBurstLen.Seconds()*m2eRate)
	for i := m2eRate; i < n; i++ {
		if k := (i - m2eRate) % every; k < burst {
			s[i] = int16(16000 * math.Sin(2*math.Pi*1000*float64(k)/m2eRate))
		}
	}
	if err := audiotest.WriteWAV(path, s, m2eRate); err != nil {
		t.Fatal(err)
	}
}

// m2eRecorder records mouth's and ear's monitors into one two-channel file until stop, which
// returns the two channels.
func m2eRecorder(t *testing.T, dir string) (stop func() (mouth, ear []int16)) {
	t.Helper()
	file := filepath.Join(dir, "m2e.wav")
	node := "tp_probe_" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("pw-record", "--target", "0", "--rate", "48000", "--channels", "2", "--channel-map", "FL,FR",
		"--latency", "1024", "-P", "node.name="+node, file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var linked bool
	for i := 0; i < 50 && !linked; i++ {
		time.Sleep(100 * time.Millisecond)
		linked = exec.Command("pw-link", "mouth:monitor_MONO", node+":input_FL").Run() == nil
	}
	if !linked {
		_ = cmd.Process.Kill()
		t.Fatal("pw-link: the recorder's ports did not appear")
	}
	if out, err := exec.Command("pw-link", "ear:monitor_MONO", node+":input_FR").CombinedOutput(); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("pw-link ear: %v %s", err, out)
	}
	return func() ([]int16, []int16) {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		l, r, err := readStereoWAV(file)
		if err != nil {
			t.Fatal(err)
		}
		return l, r
	}
}

// readStereoWAV returns the two channels of a 16-bit stereo WAV file.
func readStereoWAV(path string) (l, r []int16, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, nil, errors.New("not a WAV file")
	}
	// Ends at the data chunk or at the end of the file.
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		if id != "data" {
			p += size + size%2
			continue
		}
		data := b[p:]
		if size > 0 && size < len(data) {
			data = data[:size]
		}
		for i := 0; i+4 <= len(data); i += 4 {
			l = append(l, int16(binary.LittleEndian.Uint16(data[i:])))
			r = append(r, int16(binary.LittleEndian.Uint16(data[i+2:])))
		}
		return l, r, nil
	}
	return nil, nil, errors.New("no data chunk")
}

// m2eOnsets returns the sample indexes where a burst starts: a sample above a quarter of the
// burst's level after at least 0.3 s below it.
func m2eOnsets(x []int16) []int {
	var out []int
	last := -m2eRate
	for i, v := range x {
		if v > 4000 || v < -4000 {
			if i-last > m2eRate*3/10 {
				out = append(out, i)
			}
			last = i
		}
	}
	return out
}

// m2eDelays pairs each burst into mouth with the next one out of ear (within 0.45 s) and
// returns the delays in milliseconds, and how many bursts went in.
func m2eDelays(mouth, ear []int16) (ms []float64, in int) {
	a, b := m2eOnsets(mouth), m2eOnsets(ear)
	j := 0
	for _, at := range a {
		for j < len(b) && b[j] < at {
			j++
		}
		if j < len(b) && b[j]-at < m2eRate*45/100 {
			ms = append(ms, float64(b[j]-at)*1000/m2eRate)
			j++
		}
	}
	return ms, len(a)
}

// m2ePlay plays the burst file into mouth; the returned function stops it.
func m2ePlay(t *testing.T, file string) (stop func()) {
	t.Helper()
	cmd := exec.Command("pw-play", "--target", "mouth", file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}

// m2eRound is one measured call.
type m2eRound struct {
	delays []float64
	in     int
	// trayphone only: the device figures its debug log gives (ms).
	hostIn, hostOut, captureLeft, playQueued float64
}

// devLine picks the numbers the portaudio package logs at open and close.
var devLine = regexp.MustCompile(`(host_in_ms|host_out_ms|capture_left_mean_ms|play_queued_mean_ms)=([0-9.]+)`)

func runTrayphoneM2E(t *testing.T, bin, dir, bursts string, d time.Duration) m2eRound {
	type peer struct {
		home string
		port int
		cmd  *exec.Cmd
		log  string
	}
	cli := func(p *peer, args ...string) ([]byte, error) {
		return exec.Command(bin, append([]string{"--home", p.home}, args...)...).Output()
	}
	var peers [2]*peer
	for i, name := range []string{"a", "b"} {
		p := &peer{home: filepath.Join(dir, name), port: freeUDPPort(t), log: filepath.Join(dir, name+".log")}
		if err := os.MkdirAll(p.home, 0o700); err != nil {
			t.Fatal(err)
		}
		// VAD off: the first 20 ms of a burst after silence must not wait for the detector.
		cfg := "[sip]\nuser = \"" + name + "\"\n\n[audio]\ncodecs = [\"PCMU\"]\nvad = false\n"
		if err := os.WriteFile(filepath.Join(p.home, "config.toml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		in, out := "portaudio:mouth.monitor", "null"
		if i == 1 {
			in, out = "null", "portaudio:ear"
		}
		logf, _ := os.Create(p.log)
		p.cmd = exec.Command(bin, "--home", p.home, "--headless", "--listen", fmt.Sprintf("127.0.0.1:%d", p.port),
			"--audio-in", in, "--audio-out", out, "--log-level", "debug")
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
	state := func(p *peer) phone.CallState {
		out, err := cli(p, "calls", "--json")
		var calls []phone.CallInfo
		if err != nil || json.Unmarshal(out, &calls) != nil || len(calls) == 0 {
			return phone.CallUnknown
		}
		return calls[0].State
	}
	stopRec := m2eRecorder(t, dir)
	if out, err := cli(peers[0], "call", fmt.Sprintf("sip:b@127.0.0.1:%d", peers[1].port)); err != nil {
		t.Fatalf("call: %v %s", err, out)
	}
	waitFor("incoming call", func() bool { return state(peers[1]) == phone.CallIncoming })
	if out, err := cli(peers[1], "answer"); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			out = append(out, ee.Stderr...)
		}
		b, _ := os.ReadFile(peers[1].log)
		t.Fatalf("answer: %v %s\nB's log:\n%s", err, out, b)
	}
	waitFor("active call", func() bool { return state(peers[0]) == phone.CallActive })
	time.Sleep(time.Second)
	stopPlay := m2ePlay(t, bursts)
	time.Sleep(d)
	stopPlay()
	mouth, ear := stopRec()
	_, _ = cli(peers[0], "hangup")
	waitFor("call ended", func() bool { s := state(peers[1]); return s == phone.CallEnded || s == phone.CallUnknown })
	time.Sleep(300 * time.Millisecond) // the devices' close lines
	var r m2eRound
	r.delays, r.in = m2eDelays(mouth, ear)
	for i, p := range peers {
		b, _ := os.ReadFile(p.log)
		for _, line := range bytes.Split(b, []byte("\n")) {
			if !bytes.Contains(line, []byte("component=audio")) {
				continue // the ringer's device
			}
			for _, m := range devLine.FindAllSubmatch(line, -1) {
				v, _ := strconv.ParseFloat(string(m[2]), 64)
				switch k := string(m[1]); {
				case k == "host_in_ms" && i == 0:
					r.hostIn = v
				case k == "host_out_ms" && i == 1:
					r.hostOut = v
				case k == "capture_left_mean_ms" && i == 0:
					r.captureLeft = v
				case k == "play_queued_mean_ms" && i == 1:
					r.playQueued = v
				}
			}
		}
	}
	return r
}

func runBaresipM2E(t *testing.T, dir, bursts string, d time.Duration) m2eRound {
	a := baresip.Start(t, baresip.Options{User: "alice", Codecs: []string{"pcmu"}, AudioSource: "alsa,pulse:DEVICE=mouth.monitor"})
	b := baresip.Start(t, baresip.Options{User: "bob", Codecs: []string{"pcmu"}, AnswerMode: "auto", AudioPlayer: "alsa,pulse:DEVICE=ear"})
	stopRec := m2eRecorder(t, dir)
	if err := a.Dial(b.URI()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WaitEvent("CALL_ESTABLISHED", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	stopPlay := m2ePlay(t, bursts)
	time.Sleep(d)
	stopPlay()
	mouth, ear := stopRec()
	_ = a.Hangup()
	var r m2eRound
	r.delays, r.in = m2eDelays(mouth, ear)
	return r
}

// TestMouthToEarSoundServer measures mouth-to-ear through the sound server for trayphone and for
// baresip (its alsa module on the same sinks through the ALSA pulse plugin, its default
// buffers), PCMU over loopback, taking turns for TRAYPHONE_BENCH_ROUNDS rounds (default 3) of
// TRAYPHONE_BENCH_M2E_SECONDS (default 10). Each round's delays are all alike within a call (the
// phones' ticks keep their phase) and differ between calls by where the ticks fall (0-20 ms), so
// the rounds matter more than the bursts. Run by bench/run.sh (TRAYPHONE_BENCH=1); the table goes
// to TRAYPHONE_BENCH_M2E_OUT.
func TestMouthToEarSoundServer(t *testing.T) {
	if os.Getenv("TRAYPHONE_BENCH") == "" {
		t.Skip("benchmark: run bench/run.sh (TRAYPHONE_BENCH=1)")
	}
	for _, p := range []string{"pw-record", "pw-play", "pw-link", "pactl", "baresip"} {
		testenv.RequireProgram(t, p)
	}
	d := 10 * time.Second
	if s, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_M2E_SECONDS")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("TRAYPHONE_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "trayphone")
	if out, err := exec.Command("go", "build", "-o", bin, "trayphone").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	testenv.StartPipeWire(t)
	m2eSinks(t)
	bursts := filepath.Join(dir, "bursts.wav")
	m2eBursts(t, bursts, d+2*time.Second)

	var tps, bss []m2eRound
	for i := range rounds {
		tps = append(tps, runTrayphoneM2E(t, bin, mkdir(t, filepath.Join(dir, fmt.Sprintf("tp%d", i))), bursts, d))
		bss = append(bss, runBaresipM2E(t, mkdir(t, filepath.Join(dir, fmt.Sprintf("bs%d", i))), bursts, d))
	}
	summary := func(rs []m2eRound) (med float64, per []string, heard string) {
		var all []float64
		got, in := 0, 0
		for _, r := range rs {
			all = append(all, r.delays...)
			got += len(r.delays)
			in += r.in
			if len(r.delays) == 0 {
				per = append(per, "none heard")
				continue
			}
			per = append(per, fmt.Sprintf("%.1f", Median(slices.Clone(r.delays))))
		}
		if len(all) == 0 {
			return math.NaN(), per, fmt.Sprintf("0 of %d", in)
		}
		return Median(all), per, fmt.Sprintf("%d of %d", got, in)
	}
	tpMed, tpPer, tpHeard := summary(tps)
	bsMed, bsPer, bsHeard := summary(bss)
	var b strings.Builder
	fmt.Fprintf(&b, "mouth-to-ear through the sound server (private PipeWire, null sinks mouth → A … B → ear, PCMU over loopback), %d rounds of %v taking turns\n\n", rounds, d)
	fmt.Fprintf(&b, "| measure | trayphone | baresip | ratio |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| mouth-to-ear, median of all bursts (target ≤ 100 ms and below baresip) | %.1f ms | %.1f ms | %.2f |\n", tpMed, bsMed, tpMed/bsMed)
	fmt.Fprintf(&b, "| per round (median) | %s ms | %s ms | |\n", strings.Join(tpPer, ", "), strings.Join(bsPer, ", "))
	fmt.Fprintf(&b, "| bursts heard | %s | %s | |\n", tpHeard, bsHeard)
	var hi, ho, cl, pq []float64
	for _, r := range tps {
		hi, ho, cl, pq = append(hi, r.hostIn), append(ho, r.hostOut), append(cl, r.captureLeft), append(pq, r.playQueued)
	}
	fmt.Fprintf(&b, "\ntrayphone's device figures (median of rounds): PortAudio's input buffering %.0f ms, capture ring left after each Read %.1f ms (mean), "+
		"playback ring after each Write %.1f ms (mean, the frame just written included), PortAudio's output buffering %.0f ms\n",
		Median(hi), Median(cl), Median(pq), Median(ho))
	t.Log("\n" + b.String())
	if out := os.Getenv("TRAYPHONE_BENCH_M2E_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
