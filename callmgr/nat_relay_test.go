package callmgr

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/coturn"
	"trayphone/nat"
)

// RelaysInUse makes mutNAT a RelayReporter.
func (f *mutNAT) RelaysInUse(relays []RelayUse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.relays, f.whys = f.relays[:0:0], f.whys[:0:0]
	for _, r := range relays {
		f.relays, f.whys = append(f.relays, r.Addr), append(f.whys, r.Why)
	}
	f.reports++
}

func (f *mutNAT) relaysNow() ([]netip.AddrPort, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.relays, f.reports
}

// udpOn opens a loopback UDP socket closed when t ends.
func udpOn(t *testing.T) *net.UDPConn {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func udpAddrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// stunMapper answers binding requests on loopback with mapped as everyone's public address.
func stunMapper(t *testing.T, mapped netip.AddrPort) netip.AddrPort {
	return stunServer(t, func(netip.AddrPort) netip.AddrPort { return mapped })
}

// firewall stands in front of bob's RTP socket as the address bob advertises: it drops what
// comes straight from alice's RTP socket (a filtering NAT on the way) and passes everything else
// (the TURN relay) to bob, and bob's answers back to the last source it passed.
type firewall struct {
	conn            *net.UDPConn
	blocked, inside atomic.Pointer[netip.AddrPort]
	passed, dropped atomic.Int64
}

func newFirewall(t *testing.T) *firewall {
	f := &firewall{conn: udpOn(t)}
	// Returns when the cleanup closes the socket.
	go func() {
		buf := make([]byte, 1500)
		var last netip.AddrPort
		for {
			n, from, err := f.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			in, bl := f.inside.Load(), f.blocked.Load()
			switch {
			case in == nil || bl == nil || from == *bl:
				f.dropped.Add(1)
			case from == *in:
				if last.IsValid() {
					f.conn.WriteToUDPAddrPort(buf[:n], last)
				}
			default:
				last = from
				f.passed.Add(1)
				f.conn.WriteToUDPAddrPort(buf[:n], *in)
			}
		}
	}()
	return f
}

// TestRelayMidCall: neither side's audio gets through directly (alice advertises an address
// nobody reads, a firewall drops alice's packets before bob); alice's NAT filters per address and
// port and a TURN server (coturn) is configured, so after the no-audio warning alice allocates a
// relay, re-INVITEs with its address, reports it for status, and the call has audio both ways.
//
// With the NAT type unknown (a STUN server that cannot run the RFC 5780 tests) the missing audio
// alone is the reason: the relay is taken all the same.
func TestRelayMidCall(t *testing.T) {
	t.Run("filtering known", func(t *testing.T) { testRelayMidCall(t, nat.EndpointIndependent, nat.AddressPortDependent) })
	t.Run("type unknown", func(t *testing.T) { testRelayMidCall(t, nat.BehaviorUnknown, nat.BehaviorUnknown) })
}

func testRelayMidCall(t *testing.T, mapping, filtering nat.Behavior) {
	checkGoroutines(t)
	srv := coturn.Start(t, coturn.Options{User: "test", Password: "testpw", AllowLoopbackPeers: true})
	hole := udpOn(t) // alice's advertised address: reads and drops
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := hole.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	fw := newFirewall(t)
	an := &mutNAT{
		rep: nat.Report{Local: netip.MustParseAddrPort("127.0.0.1:40000"), Public: netip.MustParseAddrPort("198.51.100.1:40000"),
			Mapping: mapping, Filtering: filtering, Server: stunMapper(t, udpAddrOf(hole))},
		turn: nat.TURNConfig{Server: srv.Addr().String(), Username: "test", Password: "testpw"},
	}
	bn := &mutNAT{rep: nat.Report{Local: netip.MustParseAddrPort("127.0.0.1:40000"), Public: netip.MustParseAddrPort("198.51.100.2:40000"),
		Mapping: nat.EndpointIndependent, Server: stunMapper(t, udpAddrOf(fw.conn))}}
	a := startCore(t, "alice", coreOpts{nat: an})
	b := startCore(t, "bob", coreOpts{toneHz: 700, nat: bn})
	established(t, a, b)
	port := func(c *core) netip.AddrPort {
		ch := make(chan netip.AddrPort, 1)
		c.mgr.post(func() {
			for _, cl := range c.mgr.calls {
				ch <- netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(localPort(cl)))
			}
		})
		return <-ch
	}
	aRTP, bRTP := port(a), port(b)
	fw.blocked.Store(&aRTP)
	fw.inside.Store(&bRTP)

	var relays []netip.AddrPort
	for deadline := time.Now().Add(8 * time.Second); len(relays) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no relay in use 8 s after the call started\n%s", srv.Log())
		}
		relays, _ = an.relaysNow()
	}
	relay := relays[0]
	if relay.Addr() != srv.Addr().Addr() {
		t.Errorf("relay %v is not on the TURN server %v", relay, srv.Addr())
	}
	var got netip.AddrPort
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = remoteRTPOf(b); got == relay {
			break
		}
	}
	if got != relay {
		t.Fatalf("bob sends to %v after the re-INVITE, want the relay %v", got, relay)
	}
	time.Sleep(2500 * time.Millisecond)
	if fw.dropped.Load() == 0 || fw.passed.Load() == 0 {
		t.Errorf("firewall: %d dropped (alice direct), %d passed (relay); want both > 0", fw.dropped.Load(), fw.passed.Load())
	}
	if st := b.mgr.Status(); len(st.Calls) != 1 || st.Calls[0].State != phone.CallActive {
		t.Fatalf("bob: %+v", st.Calls)
	}
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	b.stop()
	if r, n := an.relaysNow(); len(r) != 0 || n < 2 {
		t.Errorf("after hang-up: relays %v after %d reports, want none after ≥ 2", r, n)
	}
	checkToneLast(t, b.out, 1004, 10, time.Second)
	checkToneLast(t, a.out, 700, 10, time.Second)
}

// advisedNAT is a mutNAT whose RelayAdvisor says the NAT maps per destination.
type advisedNAT struct{ *mutNAT }

func (advisedNAT) NeedRelay() (string, bool) { return "the NAT maps per destination: test", true }

// TestRelayWhenAdvised: with the NAT type unknown but the NAT's RelayAdvisor saying it maps per
// destination (the STUN server and the registrar see different ports), a new call's audio goes
// through the TURN relay from the start, status is told why, and audio flows both ways.
func TestRelayWhenAdvised(t *testing.T) {
	checkGoroutines(t)
	srv := coturn.Start(t, coturn.Options{User: "test", Password: "testpw", AllowLoopbackPeers: true})
	an := &mutNAT{
		rep: nat.Report{Local: netip.MustParseAddrPort("127.0.0.1:40000"), Public: netip.MustParseAddrPort("198.51.100.1:40000"),
			Server: stunMapper(t, netip.MustParseAddrPort("198.51.100.1:40000"))},
		turn: nat.TURNConfig{Server: srv.Addr().String(), Username: "test", Password: "testpw"},
	}
	a := startCore(t, "alice", coreOpts{nat: advisedNAT{an}})
	b := startCore(t, "bob", coreOpts{toneHz: 700})
	established(t, a, b)
	an.mu.Lock()
	relays, whys := an.relays, an.whys
	an.mu.Unlock()
	if len(relays) != 1 || relays[0].Addr() != srv.Addr().Addr() || whys[0] != "the NAT maps per destination: test" {
		t.Fatalf("relays %v (why %q), want one on %v because the NAT maps per destination", relays, whys, srv.Addr())
	}
	if got := remoteRTPOf(b); got != relays[0] {
		t.Errorf("bob sends to %v, want the relay %v", got, relays[0])
	}
	time.Sleep(2500 * time.Millisecond)
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	b.stop()
	checkToneLast(t, b.out, 1000, 10, time.Second)
	checkToneLast(t, a.out, 700, 10, time.Second)
}
