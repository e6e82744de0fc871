package media

import (
	"encoding/binary"
	"testing"
	"time"
)

// BenchmarkSessionSend builds, encodes (PCMU) and sends one RTP packet to a local socket.
func BenchmarkSessionSend(b *testing.B) {
	s, _ := sessAllocSession(b)
	b.ReportAllocs()
	ts := uint32(0)
	for b.Loop() {
		if err := s.snd.send(ts); err != nil {
			b.Fatal(err)
		}
		ts += 160
	}
}

// BenchmarkSessionReceive parses one RTP packet and files it into the jitter buffer.
func BenchmarkSessionReceive(b *testing.B) {
	s, peer := sessAllocSession(b)
	pkt := sessRTP(0, 0, 0, 0x99, make([]byte, 160))
	now := time.Unix(1000, 0)
	var seq uint16
	b.ReportAllocs()
	for b.Loop() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		s.handlePacket(pkt, peer, now)
		seq++
		now = now.Add(20 * time.Millisecond)
	}
}

// BenchmarkSessionTick is one 20 ms tick: capture, encode, send, pop, decode, play.
func BenchmarkSessionTick(b *testing.B) {
	s, _ := sessAllocSession(b)
	b.ReportAllocs()
	var tick int64
	for b.Loop() {
		s.snd.tick(tick, 0)
		tick++
	}
}

// BenchmarkJitterBufferInsertPop is one packet in and one frame out of the jitter buffer.
func BenchmarkJitterBufferInsertPop(b *testing.B) {
	jb := newJitterBuffer(8000, 160, defaultPlayoutDelay)
	payload := make([]byte, 160)
	now := time.Unix(1000, 0)
	var seq uint16
	var ts uint32
	b.ReportAllocs()
	for b.Loop() {
		jb.insert(rtpIn{ssrc: 1, seq: seq, ts: ts, payload: payload}, now)
		jb.pop()
		seq++
		ts += 160
		now = now.Add(20 * time.Millisecond)
	}
}
