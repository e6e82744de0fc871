package media

import (
	"math"
	"net/netip"
	"testing"
	"time"
)

// FuzzHandleRTCP feeds arbitrary datagrams to a session's RTCP receive path, alternately from the
// far end and from a stranger once latching is closed: nothing may panic, a stranger's packets
// must not move where RTCP goes, and the figures taken from reports stay finite.
func FuzzHandleRTCP(f *testing.F) {
	for _, g := range sessGarbage() {
		if len(g) < 2000 {
			f.Add(g, false)
		}
	}
	f.Add([]byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true)
	s, peer := sessAllocSession(f)
	stranger := netip.MustParseAddrPort("192.0.2.66:4001")
	now := time.Unix(1000, 0)
	f.Fuzz(func(t *testing.T, b []byte, fromStranger bool) {
		from := peer
		if fromStranger {
			from = stranger
			s.learning.Store(false)
		}
		s.rtcp.mu.Lock()
		before := s.rtcp.remote
		s.rtcp.mu.Unlock()
		s.handleRTCP(b, from, now)
		now = now.Add(time.Second)
		s.rtcp.mu.Lock()
		after, loss, jit, rtt := s.rtcp.remote, s.rtcp.remoteLoss, s.rtcp.remoteJit, s.rtcp.rttMS
		s.rtcp.mu.Unlock()
		if fromStranger && after != before {
			t.Fatalf("RTCP from a stranger moved the RTCP remote from %v to %v", before, after)
		}
		for _, v := range []float64{loss, jit, rtt} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("report figures not finite: loss %v jitter %v rtt %v", loss, jit, rtt)
			}
		}
	})
}
