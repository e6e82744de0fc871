package callmgr

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/coturn"
	"trayphone/nat"
)

// mutNAT is a NAT whose report and TURN server a test changes mid-call (a network change).
type mutNAT struct {
	mu      sync.Mutex
	rep     nat.Report
	turn    nat.TURNConfig
	relays  []netip.AddrPort // RelaysInUse's last list
	whys    []string         // and why each is in use
	reports int              // and how many there were
}

func (f *mutNAT) Report() (nat.Report, error) { f.mu.Lock(); defer f.mu.Unlock(); return f.rep, nil }
func (f *mutNAT) TURN() (nat.TURNConfig, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.turn, f.turn.Server != ""
}
func (f *mutNAT) SIPPublic() netip.AddrPort { return netip.AddrPort{} }
func (f *mutNAT) set(r nat.Report)          { f.mu.Lock(); f.rep = r; f.mu.Unlock() }

// remoteRTPOf is the address core c sends the audio of its only call to, per the SDP it got.
func remoteRTPOf(c *core) netip.AddrPort {
	ch := make(chan netip.AddrPort, 1)
	c.mgr.post(func() {
		var a netip.AddrPort
		for _, cl := range c.mgr.calls {
			a = cl.remoteRTP
		}
		ch <- a
	})
	return <-ch
}

// TestRediscoverOnLiveSocket: after a network change, the re-INVITE carries the public address
// and port that a STUN binding on the call's live RTP socket found (the request goes out of the
// socket the media session reads, coturn's answer comes back through the session's OnSTUN), not
// the new NAT's address with the old local port.
func TestRediscoverOnLiveSocket(t *testing.T) {
	checkGoroutines(t)
	srv := coturn.Start(t, coturn.Options{})
	n := &mutNAT{rep: nat.Report{
		Local:  netip.MustParseAddrPort("127.0.0.1:40000"),
		Public: netip.MustParseAddrPort("198.51.100.1:40000"), Mapping: nat.EndpointIndependent,
		Server: stunResponder(t), // first network: "198.51.100.1", port + 1000
	}}
	a := startCore(t, "alice", coreOpts{nat: n})
	b := startCore(t, "bob", coreOpts{toneHz: 700})
	established(t, a, b)
	ports := make(chan int, 1)
	a.mgr.post(func() {
		for _, c := range a.mgr.calls {
			ports <- localPort(c)
		}
	})
	aPort := <-ports
	if got, want := remoteRTPOf(b), netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), uint16(aPort+1000)); got != want {
		t.Fatalf("before the change bob sends to %v, want %v", got, want)
	}
	time.Sleep(500 * time.Millisecond)

	// The new network: another public address, and a STUN server (coturn) that reports the
	// socket's real mapping, 127.0.0.1:aPort. Assuming the port was kept would give
	// 203.0.113.9:aPort instead.
	n.set(nat.Report{
		Local:  netip.MustParseAddrPort("127.0.0.1:40000"),
		Public: netip.MustParseAddrPort("203.0.113.9:40000"), Mapping: nat.EndpointIndependent,
		Server: srv.Addr(),
	})
	a.mgr.NetworkChanged()
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(aPort))
	var got netip.AddrPort
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = remoteRTPOf(b); got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("after the change bob sends to %v, want the live socket's STUN mapping %v", got, want)
	}
	// The STUN answer did not reach the RTP parser.
	ign := make(chan uint64, 1)
	a.mgr.post(func() {
		for _, c := range a.mgr.calls {
			ign <- c.sess.Ignored()
		}
	})
	if g := <-ign; g != 0 {
		t.Errorf("alice's session dropped %d datagrams as not RTP; the STUN answer should go to the prober", g)
	}
	time.Sleep(1500 * time.Millisecond)
	if st := b.mgr.Status(); len(st.Calls) != 1 || st.Calls[0].State != phone.CallActive {
		t.Fatalf("bob after the re-INVITE: %+v", st.Calls)
	}
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	b.stop()
	checkToneLast(t, b.out, 1004, 10, time.Second)
	checkToneLast(t, a.out, 700, 10, time.Second)
}
