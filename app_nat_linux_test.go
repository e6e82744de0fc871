package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/siptest/coturn"
	"trayphone/internal/siptest/kamailio"
	"trayphone/internal/siptest/netns"
	"trayphone/internal/testenv"
)

// natWorld is the home-router network of issue 5: trayphone in "lan" behind MASQUERADE in "nat",
// and Kamailio, coturn and a baresip (bob) in "wan".
type natWorld struct {
	n     *netns.Net
	stun  *coturn.Server
	kam   *kamailio.Kamailio
	bob   *baresip.Baresip
	phone *instance
	log   *testenv.Buffer
}

type natWorldOpts struct {
	symmetric bool
	turn      bool // configure coturn as the phone's TURN server (user alice/turnpw)
	// noRFC5780 gives coturn a single address: it cannot run the RFC 5780 tests, so the NAT
	// type stays "unknown" (most public STUN servers are like that).
	noRFC5780 bool
	noSTUN    bool     // no stun in the config (with turn, the TURN server answers STUN)
	inNAT     bool     // run the phone in the router's namespace (10.201.2.1, no NAT on its way)
	env       []string // more environment for the phone (DBUS_SYSTEM_BUS_ADDRESS=...)
}

func startNATWorld(t *testing.T, o natWorldOpts) *natWorld {
	t.Helper()
	w := &natWorld{}
	w.n = netns.Up(t, netns.Options{AltIP: o.symmetric && !o.noRFC5780, Symmetric: o.symmetric})
	n := w.n
	copts := coturn.Options{NetNS: n.WAN, IPs: []string{n.WANIP.String()}}
	if o.symmetric && !o.noRFC5780 {
		copts.IPs = append(copts.IPs, n.WANAlt.String()) // RFC 5780: finds "symmetric"
	}
	if o.turn {
		copts.User, copts.Password = "alice", "turnpw"
	}
	w.stun = coturn.Start(t, copts)
	w.kam = kamailio.Start(t, kamailio.Options{NetNS: n.WAN, IP: n.WANIP.String()})
	w.bob = baresip.Start(t, baresip.Options{
		User: "bob", Password: "bobpw", Registrar: w.kam.Addr().String(), BindIP: n.WANIP.String(),
		NetNS: n.WAN, ToneHz: 1000,
		Dial: func(network, addr string) (c net.Conn, err error) {
			n.Do(t, n.WAN, func() { c, err = net.DialTimeout(network, addr, time.Second) })
			return c, err
		},
	})
	if _, err := w.bob.WaitEvent("REGISTER_OK", 10*time.Second); err != nil {
		t.Fatalf("bob did not register: %v", err)
	}

	home := t.TempDir()
	in := filepath.Join(home, "in.wav")
	if err := audiotest.WriteTone(in, 600, 0.5, 8000, 90); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("stun = %q\n", w.stun.Addr().String())
	if o.noSTUN {
		cfg = ""
	}
	if o.turn {
		cfg += fmt.Sprintf("[turn]\nserver = %q\nusername = \"alice\"\n", w.stun.Addr().String())
	}
	cfg += fmt.Sprintf("[sip]\nuser = \"alice\"\n[[account]]\nid = \"k\"\naor = \"sip:alice@%s\"\n", w.kam.Addr())
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Secrets go to the private-file fallback: no keyring service in the test; no logind either
	// unless the test brings one.
	env := append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent")
	env = append(env, o.env...)
	store := func(args []string, secret string) {
		cmd := exec.Command(binary, append(args, "--home", home)...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(secret+"\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("trayphone %v: %v\n%s", args, err, out)
		}
	}
	store([]string{"account", "password", "k"}, "alicepw")
	if o.turn {
		store([]string{"turn", "password"}, "turnpw")
	}
	out := filepath.Join(home, "heard.wav")
	ns := n.LAN
	if o.inNAT {
		ns = n.NAT
	}
	cmd := exec.Command("ip", "netns", "exec", ns, binary, "--home", home, "--listen", "0.0.0.0:5070",
		"--headless", "--audio-in", in, "--audio-out", out)
	cmd.Env = env
	w.log = &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = w.log, w.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.phone = &instance{t: t, home: home, out: out, cmd: cmd, log: &bytes.Buffer{}}
	t.Cleanup(func() {
		w.phone.stop()
		if t.Failed() {
			t.Logf("phone log:\n%s", w.log.String())
		}
	})
	w.waitStatus(t, 20*time.Second, "registered (behind the NAT with the public address known)", func(st phone.Status) bool {
		return (o.noSTUN || st.NAT != nil && st.NAT.Public != "") && len(st.Accounts) == 1 && st.Accounts[0].State == phone.RegRegistered
	})
	return w
}

// waitStatus polls the phone's status until ok holds.
func (w *natWorld) waitStatus(t *testing.T, timeout time.Duration, what string, ok func(phone.Status) bool) phone.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var st phone.Status
	for time.Now().Before(deadline) {
		out, err := w.phone.cliErr("status", "--json")
		if err == nil && json.Unmarshal([]byte(out), &st) == nil && ok(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("phone not %s within %v; status %+v (nat %+v)", what, timeout, st, st.NAT)
	return st
}

// bobHeard checks that baresip's recording of the last call carries the phone's 600 Hz tone.
func (w *natWorld) bobHeard(t *testing.T) {
	t.Helper()
	if _, err := w.bob.WaitEvent("CALL_CLOSED", 10*time.Second); err != nil {
		t.Fatalf("bob's call did not close: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the WAV header is written on close
	checkHeardQuiet(t, w.bob.RecordedReceived(), 600)
}

// checkHeardQuiet is checkHeard over the last second of a recording that may end in silence.
func checkHeardQuiet(t *testing.T, path string, freq float64) {
	t.Helper()
	s, rate, err := audiotest.ReadWAVMono(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	start, end := audiotest.ActiveSpan(s, rate, -40)
	if end-start < time.Second {
		t.Fatalf("%s: only %v of sound", filepath.Base(path), end-start)
	}
	tail := audiotest.Trim(s, rate, end-1200*time.Millisecond, end-200*time.Millisecond)
	an := audiotest.Analyze(tail, rate)
	t.Logf("%s: %v of sound; last second %s", filepath.Base(path), (end - start).Round(10*time.Millisecond), an)
	if d := an.DominantHz - freq; d > 5 || d < -5 {
		t.Errorf("%s: heard %.0f Hz, want %.0f Hz", path, an.DominantHz, freq)
	}
}

// activeCall waits for the phone's only call to be active with audio arriving.
func (w *natWorld) activeCall(t *testing.T) phone.CallInfo {
	t.Helper()
	st := w.waitStatus(t, 10*time.Second, "in an active call", func(st phone.Status) bool {
		return len(st.Calls) == 1 && st.Calls[0].State == phone.CallActive
	})
	return st.Calls[0]
}

func (w *natWorld) hangupAll(t *testing.T) {
	t.Helper()
	w.phone.cli("hangup")
	w.waitStatus(t, 5*time.Second, "idle", func(st phone.Status) bool { return len(st.Calls) == 0 })
}

// packetsReceived reads the current call's received RTP count.
func (w *natWorld) packetsReceived(t *testing.T) int {
	t.Helper()
	var calls []phone.CallInfo
	if err := json.Unmarshal([]byte(w.phone.cli("calls", "--json")), &calls); err != nil || len(calls) == 0 {
		t.Fatalf("calls --json: %v %+v", err, calls)
	}
	return int(calls[0].Media.PacketsReceived)
}

// TestNATCallsBothWays: trayphone behind an iptables MASQUERADE router finds the router's outer
// address, registers at Kamailio on the wan side, is called by baresip and calls it, with audio
// both ways; then a network change in the lan re-registers within 5 s; then, with the far end's
// RTP dropped at the router, the phone says so in plain words.
func TestNATCallsBothWays(t *testing.T) {
	w := startNATWorld(t, natWorldOpts{})
	n := w.n
	st := w.waitStatus(t, time.Second, "with NAT status", func(phone.Status) bool { return true })
	t.Logf("status: nat %+v, accounts %+v", *st.NAT, st.Accounts)
	if !strings.HasPrefix(st.NAT.Public, n.NATOuter.String()+":") {
		t.Errorf("public address %q, want the router's %v", st.NAT.Public, n.NATOuter)
	}
	// STUN on the SIP socket itself (its answers are taken out of the SIP listener's reads):
	// MASQUERADE kept the port, so direct calls' Contact is the router's address and port 5070.
	sipPub := fmt.Sprintf("msg=\"SIP socket's public address\" public=%s:5070", n.NATOuter)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w.log.String(), sipPub); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the phone's log", sipPub)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cs, err := w.kam.Contacts("alice"); err != nil || len(cs) != 1 || !strings.Contains(cs[0].Address+cs[0].Received, n.NATOuter.String()) {
		t.Errorf("Kamailio's contact for alice: %+v, %v; want one at %v", cs, err, n.NATOuter)
	}

	// bob calls the phone through Kamailio.
	if err := w.bob.Dial("sip:alice@" + w.kam.Addr().String()); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, 10*time.Second, "ringing", func(st phone.Status) bool {
		return len(st.Calls) == 1 && st.Calls[0].State == phone.CallIncoming
	})
	w.phone.cli("answer")
	w.activeCall(t)
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t); got < 100 {
		t.Errorf("incoming call: the phone received %d RTP packets in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.bobHeard(t)

	// The phone calls bob.
	w.phone.cli("call", "bob")
	w.activeCall(t)
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t); got < 100 {
		t.Errorf("outgoing call: the phone received %d RTP packets in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.bobHeard(t)
	checkHeardQuiet(t, w.phone.out, 1000)
	if strings.Contains(w.log.String(), "No audio is arriving") {
		t.Errorf("a call with audio got the no-audio warning")
	}

	// A network change: the lan address and default route are replaced.
	regs := w.kam.Requests("REGISTER")
	start := time.Now()
	n.MustRun(t, n.LAN, "ip", "addr", "del", "10.201.1.2/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "addr", "add", "10.201.1.7/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "route", "add", "default", "via", n.NATInner.String())
	for w.kam.Requests("REGISTER") == regs {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no REGISTER within 5 s of the network change")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.waitStatus(t, 5*time.Second-time.Since(start), "registered again", func(st phone.Status) bool {
		return st.Accounts[0].State == phone.RegRegistered
	})
	t.Logf("registered again %v after the network change", time.Since(start).Round(time.Millisecond))

	// The far end's audio is dropped at the router: the phone warns.
	n.MustRun(t, n.NAT, "iptables", "-I", "FORWARD", "-i", "nat-wan", "-o", "nat-lan", "-p", "udp",
		"!", "--sport", fmt.Sprint(w.kam.Addr().Port()), "-j", "DROP")
	w.phone.cli("call", "bob")
	w.activeCall(t)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.log.String(), "No audio is arriving from") {
		if time.Now().After(deadline) {
			t.Fatal("no warning within 5 s of a call whose far end's audio is blocked")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, line := range strings.Split(w.log.String(), "\n") {
		if strings.Contains(line, "No audio is arriving") {
			t.Logf("warning: %s", line)
		}
	}
	w.hangupAll(t)
}

// TestSymmetricNATThroughTURN: behind a NAT that picks a new port per destination, the phone
// finds "symmetric" and takes its audio through coturn's TURN relay: audio both ways.
func TestSymmetricNATThroughTURN(t *testing.T) {
	w := startNATWorld(t, natWorldOpts{symmetric: true, turn: true})
	st := w.waitStatus(t, 20*time.Second, "aware of the symmetric NAT", func(st phone.Status) bool {
		return st.NAT.Type == "symmetric"
	})
	t.Logf("status: nat %+v", *st.NAT)
	w.phone.cli("call", "bob")
	w.activeCall(t)
	st = w.waitStatus(t, 2*time.Second, "showing the TURN relay", func(st phone.Status) bool { return st.NAT.Relay != "" })
	t.Logf("status during the call: relay %s", st.NAT.Relay)
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t); got < 100 {
		t.Errorf("the phone received %d RTP packets through the relay in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.waitStatus(t, 2*time.Second, "without a relay after the call", func(st phone.Status) bool { return st.NAT.Relay == "" })
	w.bobHeard(t)
	checkHeardQuiet(t, w.phone.out, 1000)
	if !strings.Contains(w.log.String(), "audio goes through a TURN relay") {
		t.Errorf("the call did not go through the TURN relay")
	}
}
