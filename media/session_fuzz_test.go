package media

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzReceive feeds arbitrary datagrams to a session's receive path (parse, classify, latch,
// jitter buffer, telephone-events) and plays a frame after each: nothing may panic, and the
// counters must stay consistent.
func FuzzReceive(f *testing.F) {
	f.Add(sessRTP(0, 1, 160, 7, make([]byte, 160)))
	f.Add(sessRTP(101, 2, 320, 7, []byte{5, 0x8a, 0, 160}))
	f.Add([]byte{0x81, 201, 0, 1, 0, 0, 0, 1})
	for _, g := range sessGarbage()[20:] {
		if len(g) < 2000 {
			f.Add(g)
		}
	}
	s, _ := sessAllocSession(f)
	s.evPT = 101
	from := netip.MustParseAddrPort("127.0.0.1:9")
	now := time.Unix(1000, 0)
	var tick int64
	f.Fuzz(func(t *testing.T, b []byte) {
		before := s.Ignored() + s.Stats().PacketsReceived
		s.handlePacket(b, from, now)
		if got := s.Ignored() + s.Stats().PacketsReceived; got != before+1 {
			t.Fatalf("a datagram was counted %d times, want once", got-before)
		}
		s.snd.tick(tick, 0)
		tick++
		now = now.Add(20 * time.Millisecond)
	})
}
