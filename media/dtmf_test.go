package media

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/pion/rtp"

	"trayphone/internal/clock"
)

// TestTelephoneEventBytes checks the RFC 4733 §2.3 payload layout: event, E|R|volume, duration.
func TestTelephoneEventBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev   telephoneEvent
		want string
	}{
		{telephoneEvent{Event: 1, Volume: 10, Duration: 160}, "010a00a0"},
		{telephoneEvent{Event: 1, Volume: 10, Duration: 800, End: true}, "018a0320"},
		{telephoneEvent{Event: 11, Volume: 10, Duration: 4800, End: true}, "0b8a12c0"}, // '#' at 48 kHz
		{telephoneEvent{Event: 16, Volume: 63, Duration: 65535}, "103fffff"},
	}
	for _, tt := range tests {
		got := appendTelephoneEvent(nil, tt.ev)
		if hex.EncodeToString(got) != tt.want {
			t.Errorf("appendTelephoneEvent(%+v): got %x, want %s", tt.ev, got, tt.want)
		}
		back, ok := parseTelephoneEvent(got)
		if !ok || back != tt.ev {
			t.Errorf("parseTelephoneEvent(%x): got %+v, want %+v", got, back, tt.ev)
		}
	}
}

func TestCheckDTMF(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"0123456789*#ABCD", "abcd", "1"} {
		if err := CheckDTMF(ok); err != nil {
			t.Errorf("CheckDTMF(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "12x", "1 2", "E", "+"} {
		if err := CheckDTMF(bad); err == nil {
			t.Errorf("CheckDTMF(%q): no error", bad)
		}
	}
}

// TestSessionSendsDTMF runs a session on a fake clock and checks the packets of "1#" on the wire,
// byte for byte: audio, then the events in the same SSRC and sequence space, then audio again.
func TestSessionSendsDTMF(t *testing.T) {
	sessCheckNoLeak(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}, Clock: clk,
		TelephoneEventPT: 101})
	if err := s.SendDTMF("1x"); err == nil {
		t.Error("SendDTMF(1x): no error")
	}
	s.Start()

	buf := make([]byte, 1500)
	read := func() rtp.Packet {
		t.Helper()
		peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("reading the sent packet: %v", err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		p.Payload = bytes.Clone(p.Payload)
		return p
	}
	tick := func() {
		sessWaitTimers(t, clk, 1)
		clk.Advance(20 * time.Millisecond)
	}

	first := read() // audio, tick 0
	if err := s.SendDTMF("1#"); err != nil {
		t.Fatal(err)
	}
	type want struct {
		pt      uint8
		marker  bool
		tsTicks uint32 // timestamp after first's, in frames
		payload string // hex; "" for audio
	}
	wants := []want{
		// '1' starts at tick 1: duration grows 160 per packet; the end packet goes out 3 times.
		{101, true, 1, "010a00a0"},
		{101, false, 1, "010a0140"},
		{101, false, 1, "010a01e0"},
		{101, false, 1, "010a0280"},
		{101, false, 1, "018a0320"},
		{101, false, 1, "018a0320"},
		{101, false, 1, "018a0320"},
		// 100 ms of audio between the digits, the first one marked.
		{0, true, 8, ""}, {0, false, 9, ""}, {0, false, 10, ""}, {0, false, 11, ""}, {0, false, 12, ""},
		// '#' starts at tick 13.
		{101, true, 13, "0b0a00a0"},
		{101, false, 13, "0b0a0140"},
		{101, false, 13, "0b0a01e0"},
		{101, false, 13, "0b0a0280"},
		{101, false, 13, "0b8a0320"},
		{101, false, 13, "0b8a0320"},
		{101, false, 13, "0b8a0320"},
		{0, true, 20, ""},
	}
	for i, w := range wants {
		tick()
		p := read()
		wantSeq := first.SequenceNumber + uint16(i) + 1
		if p.PayloadType != w.pt || p.Marker != w.marker || p.SSRC != first.SSRC || p.SequenceNumber != wantSeq ||
			p.Timestamp != first.Timestamp+w.tsTicks*160 {
			t.Fatalf("packet %d: got pt %d marker %v ssrc %x seq %d ts %d; want pt %d marker %v ssrc %x seq %d ts %d",
				i, p.PayloadType, p.Marker, p.SSRC, p.SequenceNumber, p.Timestamp,
				w.pt, w.marker, first.SSRC, wantSeq, first.Timestamp+w.tsTicks*160)
		}
		if w.payload != "" && hex.EncodeToString(p.Payload) != w.payload {
			t.Fatalf("packet %d: payload %x, want %s", i, p.Payload, w.payload)
		}
		if w.payload == "" && len(p.Payload) != 160 {
			t.Fatalf("packet %d: %d bytes of audio, want 160", i, len(p.Payload))
		}
	}
	if got := s.Stats().PacketsSent; got != uint64(len(wants)+1) {
		t.Errorf("packets sent: got %d, want %d", got, len(wants)+1)
	}
	s.Close()
}

// TestSessionDTMFNotNegotiated checks that a session without telephone-event says so, so the call
// manager can fall back to SIP INFO.
func TestSessionDTMFNotNegotiated(t *testing.T) {
	s := sessNew(t, SessionConfig{Conn: sessListen(t), Remote: sessAddr(sessListen(t)), Stream: sessSilentStream{}})
	if err := s.SendDTMF("1"); err != ErrNoTelephoneEvent {
		t.Errorf("SendDTMF without telephone-event: got %v, want ErrNoTelephoneEvent", err)
	}
}

// TestDTMFQueueFull checks that digits beyond the queue are refused, not blocked on.
func TestDTMFQueueFull(t *testing.T) {
	t.Parallel()
	d := newDTMFSender(160)
	if err := d.enqueue(string(bytes.Repeat([]byte("1"), dtmfQueue))); err != nil {
		t.Fatal(err)
	}
	if err := d.enqueue("2"); err == nil {
		t.Error("enqueue past the queue: no error")
	}
}
