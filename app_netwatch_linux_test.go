package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/dbustest"
)

// waitContact waits until Kamailio's location table holds exactly one binding for alice and it
// contains want; it returns how long that took.
func (w *natWorld) waitContact(t *testing.T, timeout time.Duration, want string) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		cs, err := w.kam.Contacts("alice")
		if err == nil && len(cs) == 1 && strings.Contains(cs[0].Address, want) {
			return time.Since(start)
		}
		last = fmt.Sprintf("%+v (err %v)", cs, err)
		if time.Since(start) > timeout {
			t.Fatalf("Kamailio's location table for alice within %v: %s; want one binding at %s", timeout, last, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAddressChangeWithoutSTUN: with no stun in the config, the phone's address is replaced
// during a call. The phone registers its new Contact within 5 s (read from Kamailio's location
// table), re-INVITEs the call so the far end's audio follows it, and can be called at the new
// address.
func TestAddressChangeWithoutSTUN(t *testing.T) {
	w := startNATWorld(t, natWorldOpts{noSTUN: true, inNAT: true})
	n := w.n
	w.waitContact(t, time.Second, n.NATOuter.String()+":5070")

	w.phone.cli("call", "bob")
	w.activeCall(t)
	time.Sleep(2 * time.Second)
	if got := w.packetsReceived(t); got < 60 {
		t.Fatalf("before the change the phone received %d RTP packets in 2 s, want ≥ 60", got)
	}
	invites := w.kam.Requests("INVITE")

	n.MustRun(t, n.NAT, "ip", "addr", "del", n.NATOuter.String()+"/24", "dev", "nat-wan")
	n.MustRun(t, n.NAT, "ip", "addr", "add", "10.201.2.9/24", "dev", "nat-wan")
	start := time.Now()
	took := w.waitContact(t, 5*time.Second, "10.201.2.9:5070")
	t.Logf("Kamailio has the new Contact %v after the address change", took.Round(time.Millisecond))
	for w.kam.Requests("INVITE") == invites {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the call was not re-INVITEd within 5 s of the address change")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("re-INVITE %v after the address change", time.Since(start).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	before := w.packetsReceived(t)
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t) - before; got < 100 {
		t.Errorf("after the change the phone received %d RTP packets in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.bobHeard(t)
	checkHeardQuiet(t, w.phone.out, 1000)

	// Reachable at the new address: bob's call rings the phone.
	if err := w.bob.Dial("sip:alice@" + w.kam.Addr().String()); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, 5*time.Second, "ringing at its new address", func(st phone.Status) bool {
		return len(st.Calls) == 1 && st.Calls[0].State == phone.CallIncoming
	})
	w.phone.cli("hangup")
}

// TestWakeFromLogind: logind's PrepareForSleep(false) on the system bus (a private bus standing
// for it, with a fake logind that emits the signal) makes the phone register again at once,
// without stun configured.
func TestWakeFromLogind(t *testing.T) {
	bus := dbustest.StartBus(t)
	conn := dbustest.Connect(t, bus)
	if _, err := conn.RequestName("org.freedesktop.login1", 0); err != nil {
		t.Fatal(err)
	}
	w := startNATWorld(t, natWorldOpts{noSTUN: true, inNAT: true, env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + bus}})
	// The phone says when it listens to logind; without that (today's code) the test goes on and
	// fails on the REGISTER that does not come.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w.log.String(), "wake-ups noticed through logind") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	regs := w.kam.Requests("REGISTER")
	if err := conn.Emit("/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := conn.Emit("/org/freedesktop/login1", "org.freedesktop.login1.Manager.PrepareForSleep", false); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for w.kam.Requests("REGISTER") == regs {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no REGISTER within 5 s of the wake-up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("REGISTER %v after the wake-up", time.Since(start).Round(time.Millisecond))
	w.waitStatus(t, 5*time.Second, "registered after the wake-up", func(st phone.Status) bool {
		return st.Accounts[0].State == phone.RegRegistered
	})
}

// natStatus reads status --json's NAT part.
func (w *natWorld) natStatus(t *testing.T) phone.NATInfo {
	t.Helper()
	var st phone.Status
	if err := json.Unmarshal([]byte(w.phone.cli("status", "--json")), &st); err != nil || st.NAT == nil {
		t.Fatalf("status --json: %v %+v", err, st)
	}
	return *st.NAT
}

// TestPerDestinationNATUnknownTypeUsesTURN: behind a NAT that maps per destination, with a STUN
// server that cannot run the RFC 5780 tests (NAT type "unknown"), the phone sees that the STUN
// server and the registrar see its SIP socket at different ports, says so in status, and takes
// the call's audio through the TURN relay: audio both ways, measured on the recordings.
func TestPerDestinationNATUnknownTypeUsesTURN(t *testing.T) {
	w := startNATWorld(t, natWorldOpts{symmetric: true, noRFC5780: true, turn: true})
	st := w.waitStatus(t, 10*time.Second, "aware that the NAT maps per destination", func(st phone.Status) bool {
		return st.NAT.Type == "unknown" && strings.Contains(strings.Join(st.NAT.Detected, "; "), "per destination")
	})
	t.Logf("status: nat %+v", *st.NAT)
	w.phone.cli("call", "bob")
	w.activeCall(t)
	st = w.waitStatus(t, 2*time.Second, "showing the TURN relay", func(st phone.Status) bool { return st.NAT.Relay != "" })
	t.Logf("status during the call: relay %s: %s", st.NAT.Relay, st.NAT.RelayReason)
	if !strings.Contains(st.NAT.RelayReason, "per destination") {
		t.Errorf("relay reason %q does not say the NAT maps per destination", st.NAT.RelayReason)
	}
	text := w.phone.cli("status")
	t.Logf("status:\n%s", text)
	if !strings.Contains(text, "TURN relay: "+st.NAT.Relay) || !strings.Contains(text, "per destination") {
		t.Errorf("status text does not show the relay and why")
	}
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t); got < 100 {
		t.Errorf("the phone received %d RTP packets through the relay in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.bobHeard(t)
	checkHeardQuiet(t, w.phone.out, 1000)
}

// TestNoAudioMovesToTURNMidCall: the NAT keeps its port (nothing to detect up front) and the STUN
// server cannot tell the NAT type, but the router drops the far end's audio. Two seconds into the
// call the phone moves the audio to the TURN relay (a re-INVITE) and audio flows both ways.
func TestNoAudioMovesToTURNMidCall(t *testing.T) {
	w := startNATWorld(t, natWorldOpts{noRFC5780: true, turn: true})
	n := w.n
	st := w.natStatus(t)
	t.Logf("status: nat %+v", st)
	if st.Type != "unknown" {
		t.Fatalf("NAT type %q, want unknown (coturn with one address)", st.Type)
	}
	n.MustRun(t, n.NAT, "iptables", "-I", "FORWARD", "-i", "nat-wan", "-o", "nat-lan", "-p", "udp",
		"-m", "multiport", "!", "--sports", fmt.Sprintf("%d,%d", w.kam.Addr().Port(), w.stun.Addr().Port()), "-j", "DROP")
	w.phone.cli("call", "bob")
	w.activeCall(t)
	start := time.Now()
	stt := w.waitStatus(t, 6*time.Second, "relaying the call's audio", func(st phone.Status) bool { return st.NAT.Relay != "" })
	t.Logf("relay %s after %v: %s", stt.NAT.Relay, time.Since(start).Round(10*time.Millisecond), stt.NAT.RelayReason)
	if !strings.Contains(stt.NAT.RelayReason, "no audio") {
		t.Errorf("relay reason %q does not say no audio arrived", stt.NAT.RelayReason)
	}
	time.Sleep(time.Second)
	before := w.packetsReceived(t)
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t) - before; got < 100 {
		t.Errorf("after the move the phone received %d RTP packets in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.bobHeard(t)
	checkHeardQuiet(t, w.phone.out, 1000)
}

// TestRelayedCallFollowsAddressChange: a call whose audio goes through the TURN relay (a NAT that
// maps per destination) survives a change of the phone's address: the old allocation belongs to
// the old address, so the phone takes a new relay and re-INVITEs with it; audio keeps flowing both
// ways. The config has no stun: the TURN server answers STUN.
func TestRelayedCallFollowsAddressChange(t *testing.T) {
	w := startNATWorld(t, natWorldOpts{symmetric: true, noRFC5780: true, turn: true, noSTUN: true})
	n := w.n
	w.waitStatus(t, 10*time.Second, "aware that the NAT maps per destination", func(st phone.Status) bool {
		return strings.Contains(strings.Join(st.NAT.Detected, "; "), "per destination")
	})
	w.phone.cli("call", "bob")
	w.activeCall(t)
	st := w.waitStatus(t, 2*time.Second, "showing the TURN relay", func(st phone.Status) bool { return st.NAT.Relay != "" })
	first := st.NAT.Relay
	time.Sleep(time.Second)

	n.MustRun(t, n.LAN, "ip", "addr", "del", "10.201.1.2/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "addr", "add", "10.201.1.7/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "route", "add", "default", "via", n.NATInner.String())
	start := time.Now()
	for {
		st = w.natWait(t)
		if st.NAT.Relay != "" && st.NAT.Relay != first {
			t.Logf("relay %s → %s %v after the address change", first, st.NAT.Relay, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("relay %q 5 s after the address change, want a new one (was %s)", st.NAT.Relay, first)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	before := w.packetsReceived(t)
	time.Sleep(3 * time.Second)
	if got := w.packetsReceived(t) - before; got < 100 {
		t.Errorf("after the change the phone received %d RTP packets in 3 s, want ≥ 100", got)
	}
	w.hangupAll(t)
	w.bobHeard(t)
	checkHeardQuiet(t, w.phone.out, 1000)
	// Both recordings hold sound well past the change (about 1 s before it, 4 s after; without a
	// new relay they end at the change).
	for _, path := range []string{w.bob.RecordedReceived(), w.phone.out} {
		s, rate, err := audiotest.ReadWAVMono(path)
		if err != nil {
			t.Fatal(err)
		}
		if start, end := audiotest.ActiveSpan(s, rate, -40); end-start < 4*time.Second {
			t.Errorf("%s: %v of sound, want ≥ 4 s (the call went on for 4 s after the change)", filepath.Base(path), end-start)
		}
	}
}

// natWait reads the phone's status.
func (w *natWorld) natWait(t *testing.T) phone.Status {
	t.Helper()
	var st phone.Status
	if err := json.Unmarshal([]byte(w.phone.cli("status", "--json")), &st); err != nil || st.NAT == nil {
		t.Fatalf("status --json: %v %+v", err, st)
	}
	return st
}
