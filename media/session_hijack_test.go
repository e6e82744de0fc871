package media

import (
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestSessionHijackMidCall is the RTP bleed attack of issue 14 as seen from outside: A and B are
// in a call; one second in, a stranger sends B a burst of well-formed RTP (B's payload type, a
// foreign SSRC, a 2000 Hz tone) from another address. B must not move its remote to the stranger,
// must not send the stranger its microphone, and must not play the stranger's audio.
func TestSessionHijackMidCall(t *testing.T) {
	sessCheckNoLeak(t)
	connA, connB := sessListen(t), sessListen(t)
	streamA, streamB := newSessToneStream(1000), newSessToneStream(0)
	a := sessNew(t, SessionConfig{Conn: connA, Remote: sessAddr(connB), Stream: streamA})
	b := sessNew(t, SessionConfig{Conn: connB, Remote: sessAddr(connA), Stream: streamB})
	a.Start()
	b.Start()
	time.Sleep(time.Second)

	stranger := sessListen(t)
	defer stranger.Close()
	var got sync.WaitGroup
	var fromB int
	got.Add(1)
	go func() { // returns when the stranger's socket is closed or quiet for 500 ms
		defer got.Done()
		buf := make([]byte, 1500)
		for {
			stranger.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := stranger.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			fromB++
		}
	}()
	phase := 0.0
	for i := range 50 {
		payload := make([]byte, 160)
		for j := range payload {
			payload[j] = EncodeULaw(int16(8000 * math.Sin(phase)))
			phase += 2 * math.Pi * 2000 / 8000
		}
		stranger.WriteToUDPAddrPort(sessRTP(0, uint16(1000+i), uint32(i)*160, 0xbadbad, payload), sessAddr(connB))
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := b.Remote(), sessAddr(connA); got != want {
		t.Errorf("B's remote after the burst: got %v, want %v (it latched to the stranger)", got, want)
	}
	_, heardByB := streamB.played(time.Second)
	sessCheckTone(t, "B during the stranger's burst (from A)", heardByB, 1000)
	got.Wait()
	if fromB != 0 {
		t.Errorf("the stranger received %d packets from B, want none", fromB)
	}
}

// TestSessionLatchWindow checks the latching rules packet by packet: latching is open for the
// first packets of a call and after SetRemote (a re-INVITE); later only the established stream
// (its SSRC, its sequence numbers) may move the remote, as a NAT rebinding does.
func TestSessionLatchWindow(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}})
	now := time.Unix(1000, 0)
	nat1 := netip.MustParseAddrPort("127.0.0.1:40000")
	nat2 := netip.MustParseAddrPort("127.0.0.1:40002")
	evil := netip.MustParseAddrPort("127.0.0.2:40004")
	pkt := func(seq uint16, ssrc uint32) []byte { return sessRTP(0, seq, uint32(seq)*160, ssrc, make([]byte, 160)) }
	want := func(step string, w netip.AddrPort) {
		t.Helper()
		if got := s.Remote(); got != w {
			t.Fatalf("%s: remote %v, want %v", step, got, w)
		}
	}

	// The call's first packet comes through a NAT: latch (RFC 4961).
	s.handlePacket(pkt(1, 7), nat1, now)
	want("first packet from a NAT", nat1)
	for i := range uint16(latchLearnPackets) {
		s.handlePacket(pkt(2+i, 7), nat1, now)
	}
	received := s.Stats().PacketsReceived
	// Mid-call, a foreign SSRC from another address: ignored, not played.
	for i := range uint16(50) {
		s.handlePacket(pkt(5000+i, 0xbad), evil, now)
	}
	want("foreign SSRC mid-call", nat1)
	if got := s.Stats().PacketsReceived; got != received {
		t.Errorf("foreign SSRC mid-call: %d packets taken, want none", got-received)
	}
	// Our SSRC but a sequence number far from the stream's: a guess, not the far end.
	s.handlePacket(pkt(30000, 7), evil, now)
	want("known SSRC, wrong sequence", nat1)
	// The far end's NAT rebinds: same SSRC, next sequence number, new port.
	seq := uint16(2 + latchLearnPackets)
	s.handlePacket(pkt(seq, 7), nat2, now)
	want("NAT rebinding", nat2)
	// A re-INVITE moves the far end: latching opens again for its first packets.
	s.SetRemote(nat1)
	s.handlePacket(pkt(1, 99), evil, now)
	want("first packet after a re-INVITE", evil)
}

// TestRTCPStranger: RTCP from a stranger's address mid-call moves nothing and counts nothing.
func TestRTCPStranger(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}})
	now := time.Unix(1000, 0)
	for i := range uint16(latchLearnPackets + 1) {
		s.handlePacket(sessRTP(0, i, uint32(i)*160, 7, make([]byte, 160)), sessAddr(peer), now)
	}
	rr, err := (&rtcp.ReceiverReport{SSRC: 0xbad, Reports: []rtcp.ReceptionReport{{SSRC: s.snd.hdr.SSRC, FractionLost: 255}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	wantRemote := rtcpAddr(sessAddr(peer))
	s.handleRTCP(rr, netip.MustParseAddrPort("127.0.0.2:40005"), now)
	s.rtcp.mu.Lock()
	got, loss := s.rtcp.remote, s.rtcp.remoteLoss
	s.rtcp.mu.Unlock()
	if got != wantRemote {
		t.Errorf("RTCP remote after a stranger's report: got %v, want %v", got, wantRemote)
	}
	if loss != 0 {
		t.Errorf("remote loss after a stranger's report: got %v, want 0 (it was taken)", loss)
	}
}

// TestSessionSignalledAddressClosesLatching: once the far end's packets come from the address its
// SDP gave, it is not behind a NAT and latching has nothing left to learn. Before, a stranger
// sending during the first latchLearnPackets packets moved the remote (and was played) each time,
// the far end's next packet moving it back: in TestHostileNetwork the phone sent audio to a
// stranger and played clicks and gaps.
func TestSessionSignalledAddressClosesLatching(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	far := sessAddr(peer)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: far, Stream: sessSilentStream{}})
	now := time.Unix(1000, 0)
	evil := netip.MustParseAddrPort("127.0.0.2:40004")
	pkt := func(seq uint16, ssrc uint32) []byte { return sessRTP(0, seq, uint32(seq)*160, ssrc, make([]byte, 160)) }

	s.handlePacket(pkt(1, 7), far, now) // the far end, from where its SDP said
	taken := s.Stats().PacketsReceived
	for i := range uint16(5) {
		s.handlePacket(pkt(100+i, 0xbad), evil, now)
	}
	if got := s.Remote(); got != far {
		t.Errorf("a stranger's packets after the far end's first from its signalled address: remote %v, want %v", got, far)
	}
	if got := s.Stats().PacketsReceived; got != taken {
		t.Errorf("a stranger's packets were taken: %d, want none", got-taken)
	}
	// A stranger first (the far end may be behind a NAT): latched; then the far end from its
	// signalled address: back to it, for good.
	s.SetRemote(far)
	s.handlePacket(pkt(200, 0xbad), evil, now)
	if got := s.Remote(); got != evil {
		t.Fatalf("first packet after a re-INVITE from elsewhere: remote %v, want %v (latching)", got, evil)
	}
	s.handlePacket(pkt(2, 7), far, now)
	s.handlePacket(pkt(201, 0xbad), evil, now)
	if got := s.Remote(); got != far {
		t.Errorf("after the far end spoke from its signalled address: remote %v, want %v", got, far)
	}
}
