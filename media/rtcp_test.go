package media

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestRTTFromReport(t *testing.T) {
	t.Parallel()
	// RFC 3550 §6.4.1: RTT = A − LSR − DLSR, in 1/65536 s.
	base := time.Unix(1_700_000_000, 0)
	rtt, ok := rttFromReport(base.Add(1500*time.Millisecond), ntpMiddle(base), 1<<16)
	if !ok || rtt < 499*time.Millisecond || rtt > 501*time.Millisecond {
		t.Errorf("SR at t, held 1 s, back at t+1.5 s: got %v, %v; want 500ms", rtt, ok)
	}
	if _, ok := rttFromReport(base, 0, 0); ok {
		t.Error("a block without LSR gave a round-trip time")
	}
}

// TestSessionRTCP has a session send a report to a socket standing in for the far end, answers
// it with a receiver report, and checks what Stats makes of it.
func TestSessionRTCP(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	rtcpConn, peerRTCP := sessListen(t), sessListen(t)
	defer peerRTCP.Close()
	s := sessNew(t, SessionConfig{Conn: conn, RTCPConn: rtcpConn, Remote: sessAddr(peer), Stream: sessSilentStream{}})
	s.SetRemote(netip.AddrPortFrom(sessAddr(peer).Addr(), sessAddr(peerRTCP).Port()-1))
	now := time.Unix(1_700_000_000, 0)

	// Some packets arrived from the far end (SSRC 9), two lost.
	for _, seq := range []uint16{1, 2, 3, 5, 6, 8} {
		s.handlePacket(sessRTP(0, seq, uint32(seq)*160, 9, make([]byte, 160)), sessAddr(peer), now)
	}
	s.sent.Store(50)
	s.octets.Store(50 * 160)
	s.lastTS.Store(12345)
	s.lastTSAt.Store(now.UnixNano())
	s.sendRTCP(now)

	buf := make([]byte, 1500)
	peerRTCP.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := peerRTCP.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil || len(pkts) != 2 {
		t.Fatalf("compound packet: %d packets, %v", len(pkts), err)
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("first packet: %T, want a sender report", pkts[0])
	}
	if sr.PacketCount != 50 || sr.OctetCount != 8000 || sr.RTPTime != 12345 || sr.NTPTime != ntpTime(now) || len(sr.Reports) != 1 {
		t.Errorf("SR: %+v", sr)
	}
	rb := sr.Reports[0]
	// 8 expected, 6 received: 2 lost, fraction 2/8 = 64/256.
	if rb.SSRC != 9 || rb.TotalLost != 2 || rb.FractionLost != 64 || rb.LastSequenceNumber != 8 {
		t.Errorf("report block: %+v", rb)
	}
	if _, ok := pkts[1].(*rtcp.SourceDescription); !ok {
		t.Errorf("second packet: %T, want SDES", pkts[1])
	}

	// The far end answers 80 ms later: it held our SR 30 ms, lost 1/4 of our packets.
	back := now.Add(80 * time.Millisecond)
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{
		SSRC: sr.SSRC, FractionLost: 64, Jitter: 80, LastSenderReport: uint32(sr.NTPTime >> 16),
		Delay: uint32(30 * time.Millisecond * 65536 / time.Second)}}}})
	s.handleRTCP(rr, sessAddr(peerRTCP), back)
	st := s.Stats()
	if math.Abs(st.RTTMS-50) > 0.1 || st.RemoteLoss != 0.25 || st.RemoteJitterMS != 10 || st.RTCPSent != 1 || st.RTCPReceived != 1 {
		t.Errorf("stats: %+v; want rtt 50 ms, remote loss 0.25, remote jitter 10 ms, 1 RTCP each way", st)
	}
	if st.MOS < 1 || st.MOS > 4.5 {
		t.Errorf("MOS %.2f out of range", st.MOS)
	}
	// 2 of 8 lost here: the estimate must be well below a clean call's 4.4.
	if st.MOS > 3.5 {
		t.Errorf("MOS with 25%% loss: %.2f, want below 3.5", st.MOS)
	}
}
