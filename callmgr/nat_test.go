package callmgr

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"trayphone/internal/phone"
	"trayphone/media"
	"trayphone/nat"
)

// fakeNAT reports a NAT in front of 127.0.0.1 whose public address is 198.51.100.1.
type fakeNAT struct{ rep nat.Report }

func (f fakeNAT) Report() (nat.Report, error)     { return f.rep, nil }
func (f fakeNAT) TURN() (nat.TURNConfig, bool)    { return nat.TURNConfig{}, false }
func (f fakeNAT) SIPPublic() netip.AddrPort       { return netip.AddrPort{} }
func (f fakeNAT) withServer(s netip.AddrPort) NAT { f.rep.Server = s; return f }

// stunResponder answers binding requests on loopback with a mapped address of 198.51.100.1 and
// the sender's port + 1000. It stops when t ends.
func stunResponder(t *testing.T) netip.AddrPort {
	return stunServer(t, func(from netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), from.Port()+1000)
	})
}

// stunServer answers binding requests on loopback with the public address mapped gives for the
// sender, and returns its own address. It stops when t ends.
func stunServer(t *testing.T, mapped func(from netip.AddrPort) netip.AddrPort) netip.AddrPort {
	conn := udpOn(t)
	// Returns when the cleanup closes conn.
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			m := mapped(from)
			res, _ := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: m.Addr().AsSlice(), Port: int(m.Port())}, stun.Fingerprint)
			conn.WriteToUDPAddrPort(res.Raw, from)
		}
	}()
	return udpAddrOf(conn)
}

// TestSDPPublicAddress: behind a NAT the offer carries the RTP socket's public address that STUN
// found on the socket itself, and audio still flows both ways because the far end latches onto
// where our packets really come from.
func TestSDPPublicAddress(t *testing.T) {
	checkGoroutines(t)
	srv := stunResponder(t)
	n := fakeNAT{rep: nat.Report{
		Local:  netip.MustParseAddrPort("127.0.0.1:40000"),
		Public: netip.MustParseAddrPort("198.51.100.1:40000"), Mapping: nat.EndpointIndependent,
	}}.withServer(srv)
	a := startCore(t, "alice", coreOpts{nat: n})
	b := startCore(t, "bob", coreOpts{toneHz: 700})
	_, cb := established(t, a, b)
	got := make(chan netip.AddrPort, 1)
	b.mgr.post(func() { got <- b.mgr.calls[cb.ID].remoteRTP })
	remote := <-got
	ports := make(chan int, 1)
	a.mgr.post(func() {
		for _, c := range a.mgr.calls {
			ports <- localPort(c)
		}
	})
	aPort := <-ports
	want := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), uint16(aPort+1000))
	if remote != want {
		t.Errorf("bob sees alice's audio at %v, want the STUN-mapped %v", remote, want)
	}
	time.Sleep(700 * time.Millisecond)
	// A network change: alice re-offers (re-INVITE, new SDP version) and the call goes on.
	version := func() (v uint64, busy bool) {
		ch := make(chan struct{})
		a.mgr.post(func() {
			for _, c := range a.mgr.calls {
				v, busy = c.sdpVersion, c.reinviting
			}
			close(ch)
		})
		<-ch
		return v, busy
	}
	v0, _ := version()
	a.mgr.NetworkChanged()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, busy := version(); v > v0 && !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no re-INVITE completed within 3 s of NetworkChanged")
		}
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

// TestNoRTPWarning: a call whose far end sends no audio gets one plain-language warning.
func TestNoRTPWarning(t *testing.T) {
	a := startCore(t, "alice", coreOpts{})
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	hole, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close() // a far end that takes our audio and sends none back
	stream, _ := media.NewNull().Open(8000, 160)
	sess, err := media.NewSession(media.SessionConfig{Conn: rtp, Remote: hole.LocalAddr().(*net.UDPAddr).AddrPort(),
		Codec: media.PCMU, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	sess.Start()
	done := make(chan string)
	a.mgr.post(func() {
		c := a.mgr.newCall(phone.Outgoing, "sip:far@192.0.2.1")
		c.state, c.sess, c.rtp = phone.CallActive, sess, rtp
		a.mgr.checkRTP(c.id)
		a.mgr.checkRTP(c.id) // once per call
		done <- c.id
	})
	id := <-done
	var warnings []string
	deadline := time.After(2 * time.Second)
loop:
	for {
		select {
		case ev := <-a.events:
			if ev.Type == phone.EventWarning && ev.Call != nil && ev.Call.ID == id {
				warnings = append(warnings, ev.Message)
			}
		case <-deadline:
			break loop
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "No audio is arriving from sip:far@192.0.2.1") ||
		!strings.Contains(warnings[0], "firewall") {
		t.Errorf("warnings: %q, want one about no audio and a firewall", warnings)
	}
	a.mgr.post(func() {
		c := a.mgr.calls[id]
		a.mgr.stopMedia(c)
		delete(a.mgr.calls, id)
		done <- ""
	})
	<-done
}
