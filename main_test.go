package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
)

// binary is the trayphone built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trayphone-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "trayphone")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build trayphone: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one trayphone daemon started from the built binary.
type instance struct {
	t    *testing.T
	home string
	out  string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	args []string // the daemon's command line, for restart
}

func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func startInstance(t *testing.T, name string, toneHz float64, extra ...string) *instance {
	t.Helper()
	return startInstanceWith(t, name, toneHz, "", extra...)
}

// startInstanceWith is startInstance with more settings appended to the config file.
func startInstanceWith(t *testing.T, name string, toneHz float64, moreConfig string, extra ...string) *instance {
	t.Helper()
	home := t.TempDir()
	in := filepath.Join(home, "in.wav")
	if err := audiotest.WriteTone(in, toneHz, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(home, "heard.wav")
	cfg := fmt.Sprintf("[sip]\nuser = %q\n", name) + moreConfig
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	args := append([]string{"--home", home, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--headless", "--audio-in", in, "--audio-out", out}, extra...)
	cmd := exec.Command(binary, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in2 := &instance{t: t, home: home, out: out, cmd: cmd, log: &log, args: args}
	t.Cleanup(func() {
		in2.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(home, "control.sock")); err == nil {
			return in2
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not start:\n%s", name, log.String())
	return nil
}

// restart stops the daemon and starts it again on the same home directory, the same way.
func (i *instance) restart() {
	i.t.Helper()
	i.stop()
	cmd := exec.Command(binary, i.args...)
	cmd.Stdout, cmd.Stderr = i.log, i.log
	if err := cmd.Start(); err != nil {
		i.t.Fatal(err)
	}
	i.cmd = cmd
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := i.cliErr("status"); err == nil {
			return
		}
	}
	i.t.Fatalf("trayphone did not start again:\n%s", i.log.String())
}

// stop sends SIGINT and waits for a clean exit.
func (i *instance) stop() {
	if i.cmd.ProcessState != nil {
		return
	}
	_ = i.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- i.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			i.t.Errorf("trayphone exited with %v", err)
		}
	case <-time.After(8 * time.Second):
		_ = i.cmd.Process.Kill()
		<-done
		i.t.Errorf("trayphone did not stop within 8 s of SIGINT")
	}
}

// cli runs a client command against this instance and returns its stdout.
func (i *instance) cli(args ...string) string {
	i.t.Helper()
	out, err := i.cliErr(args...)
	if err != nil {
		i.t.Fatalf("trayphone %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (i *instance) cliErr(args ...string) (string, error) {
	cmd := exec.Command(binary, append(args, "--home", i.home)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (i *instance) status() phone.Status {
	i.t.Helper()
	var st phone.Status
	if err := json.Unmarshal([]byte(i.cli("status", "--json")), &st); err != nil {
		i.t.Fatal(err)
	}
	return st
}

// waitCall polls status until the only call is in state want.
func (i *instance) waitCall(want phone.CallState) phone.CallInfo {
	i.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var st phone.Status
	for time.Now().Before(deadline) {
		st = i.status()
		if len(st.Calls) == 1 && st.Calls[0].State == want {
			return st.Calls[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	i.t.Fatalf("no %s call; status %+v", want, st)
	return phone.CallInfo{}
}

// TestTwoProcessesDrivenByCLI runs two real trayphone daemons and drives a whole call with the CLI:
// call, answer, hold, resume, hang up, and checks what each side heard.
func TestTwoProcessesDrivenByCLI(t *testing.T) {
	a := startInstance(t, "alice", 604)
	b := startInstance(t, "bob", 1004)
	bAddr := b.status().Contact[0]
	if !strings.HasPrefix(bAddr, "sip:bob@127.0.0.1:") {
		t.Fatalf("bob's contact %q", bAddr)
	}
	a.cli("call", bAddr)
	in := b.waitCall(phone.CallIncoming)
	if in.Direction != phone.Incoming || !strings.HasPrefix(in.Remote, "sip:alice@") {
		t.Errorf("bob sees %+v", in)
	}
	b.cli("answer")
	a.waitCall(phone.CallActive)
	time.Sleep(2 * time.Second)
	a.cli("hold")
	b.waitCall(phone.CallHeld)
	a.cli("resume")
	b.waitCall(phone.CallActive)
	time.Sleep(2 * time.Second)
	var calls []phone.CallInfo
	if err := json.Unmarshal([]byte(a.cli("calls", "--json")), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Codec == "" || calls[0].Duration < 3 || calls[0].Media.PacketsReceived < 150 {
		t.Errorf("calls --json: %+v", calls)
	}
	b.cli("hangup")
	deadline := time.Now().Add(5 * time.Second)
	for len(a.status().Calls) != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(a.status().Calls); n != 0 {
		t.Fatalf("alice still has %d calls after bob hung up", n)
	}
	a.stop()
	b.stop()
	checkHeard(t, a.out, 1004)
	checkHeard(t, b.out, 604)
}

// checkHeard judges what one side heard of the other's tone over the whole call
// (audiotest.MeasureCall): SINAD >= 30 dB (Opus, the default codec), no click, no gap, no sample
// above the tone sent + 1 dB. The recording holds what the speaker played: nothing is played on
// hold, and the side that holds mutes what it sends, so the hold is a seam in it (a phase jump or
// a short silence): the parts before and after it are judged each as a whole.
func checkHeard(t *testing.T, path string, freq float64) {
	t.Helper()
	logs, problems := judgeHeard(path, freq)
	for _, l := range logs {
		t.Log(l)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// judgeHeard is checkHeard's judgement: what it measured, and what falls short (none when the
// recording passes).
func judgeHeard(path string, freq float64) (logs, problems []string) {
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	parts := [][]int16{s}
	if c, err := audiotest.MeasureCall(s, rate, freq); err == nil && (c.Clicks > 0 || c.Gaps > 0) {
		// The seam: the first click or near-silent block (the far end mutes its microphone
		// while it holds, over 5 ms).
		at := time.Duration(math.MaxInt64)
		if c.Clicks > 0 {
			at = c.ClickAt[0]
		}
		if c.Gaps > 0 {
			at = min(at, c.GapAt[0])
		}
		seam := int((at + 7500*time.Microsecond).Seconds() * float64(rate))
		parts = [][]int16{s[:seam], s[seam:]}
	}
	for _, part := range parts {
		c, err := audiotest.MeasureCall(part, rate, freq)
		if err != nil {
			return logs, append(problems, fmt.Sprintf("%s: %v", filepath.Base(path), err))
		}
		logs = append(logs, fmt.Sprintf("%s: %v", filepath.Base(path), c))
		if c.SINADdB < 30 || c.Clicks > 0 || c.Gaps > 0 || c.PeakDBFS > audiotest.DBFS(0.5)+1 || c.End-c.Start < time.Second {
			problems = append(problems, fmt.Sprintf("%s: %v; want at least 1 s of it, SINAD >= 30 dB, no clicks, no gaps, peak <= %.1f dBFS",
				filepath.Base(path), c, audiotest.DBFS(0.5)+1))
		}
	}
	return logs, problems
}

func TestCLIWithoutRunningPhone(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{{"status"}, {"call", "echo"}, {"hangup"}, {"events"}} {
		out, err := exec.Command(binary, append(args, "--home", home)...).CombinedOutput()
		if err == nil {
			t.Errorf("trayphone %v succeeded without a running phone", args)
		}
		if !strings.Contains(string(out), "trayphone is not running") {
			t.Errorf("trayphone %v: %q", args, out)
		}
	}
}

func TestSecondInstanceRefused(t *testing.T) {
	a := startInstance(t, "alice", 600)
	cmd := exec.Command(binary, "--home", a.home, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--headless")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second instance: err %v, output %q", err, out)
	}
}

func TestBadConfigNamesLine(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("[sip]\nlisen = \"0.0.0.0:5060\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "--home", home, "--headless").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "config.toml:2") || !strings.Contains(string(out), "sip.lisen") {
		t.Errorf("bad config: err %v, output %q", err, out)
	}
}

func TestEchoThroughCLI(t *testing.T) {
	a := startInstance(t, "alice", 700)
	a.cli("call", "echo")
	c := a.waitCall(phone.CallActive)
	if c.Remote != "echo" {
		t.Errorf("remote %q", c.Remote)
	}
	time.Sleep(2500 * time.Millisecond)
	a.cli("hangup")
	a.stop()
	checkHeard(t, a.out, 700)
}

// TestUsageColumns checks "trayphone help": every command is listed, and every summary starts in
// the same column, on the command's line or, for a wide command, the next one.
func TestUsageColumns(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"help"}, &out, &out); code != 0 {
		t.Fatalf("help: exit %d\n%s", code, out.String())
	}
	text := out.String()
	cmds, _, _ := strings.Cut(text[strings.Index(text, "Commands:\n")+len("Commands:\n"):], "\nFlags:")
	const col = 2 + 28 + 1
	lines := strings.Split(strings.TrimRight(cmds, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			// A wide command: its summary is on the next line, in the column.
			if i+1 >= len(lines) || strings.TrimSpace(lines[i+1][:min(col, len(lines[i+1]))]) != "" || len(lines[i+1]) <= col {
				t.Errorf("usage line %q has no summary in column %d", l, col)
			}
			i++
		}
	}
	for _, want := range []string{"devices [--json]", "call TARGET", "account password ID", "autostart on|off"} {
		if !strings.Contains(cmds, "  "+want) {
			t.Errorf("usage lists no %q:\n%s", want, cmds)
		}
	}
}
