package media

import (
	"bytes"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"trayphone/internal/clock"
)

// sessToneStream is an in-memory Stream: Read plays a sine tone (freq 0: silence), Write records
// what the session plays.
type sessToneStream struct {
	freq, rate float64
	phase      float64 // only Read, on the send goroutine, touches it

	mu      sync.Mutex
	written []int16
	frames  int
	closed  bool
}

func newSessToneStream(freq float64) *sessToneStream {
	return &sessToneStream{freq: freq, rate: 8000}
}

func (s *sessToneStream) Read(p []int16) error {
	for i := range p {
		p[i] = int16(8000 * math.Sin(s.phase))
		s.phase += 2 * math.Pi * s.freq / s.rate
	}
	s.phase = math.Mod(s.phase, 2*math.Pi)
	return nil
}

func (s *sessToneStream) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = append(s.written, p...)
	s.frames++
	return nil
}

func (s *sessToneStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// played returns the frames written so far and the last d of audio.
func (s *sessToneStream) played(d time.Duration) (frames int, tail []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.written), int(d.Seconds()*s.rate))
	return s.frames, append([]int16(nil), s.written[len(s.written)-n:]...)
}

// sessSilentStream reads silence and discards what it is given, without allocating.
type sessSilentStream struct{}

func (sessSilentStream) Read(p []int16) error  { clear(p); return nil }
func (sessSilentStream) Write(p []int16) error { return nil }
func (sessSilentStream) Close() error          { return nil }

// sessGoertzel returns the power of x at freq (Hz), normalised by its length.
func sessGoertzel(x []int16, freq, rate float64) float64 {
	w := 2 * math.Pi * freq / rate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return p / float64(len(x)*len(x))
}

// sessCheckTone fails unless x is mostly want Hz: its power there is 20 dB above that at each of
// the other probe frequencies, and it is not silence.
func sessCheckTone(t *testing.T, who string, x []int16, want float64) {
	t.Helper()
	if len(x) < 800 {
		t.Fatalf("%s played %d samples, want at least 800", who, len(x))
	}
	pw := sessGoertzel(x, want, 8000)
	if pw < 1e5 { // an 8000-amplitude sine gives 1.6e7
		t.Fatalf("%s: power at %.0f Hz is %.3g: silence", who, want, pw)
	}
	for _, f := range []float64{300, 600, 1000, 1400, 2000, 3000} {
		if f == want {
			continue
		}
		if p := sessGoertzel(x, f, 8000); p*100 > pw {
			t.Errorf("%s: power at %.0f Hz %.3g, not 20 dB under %.0f Hz (%.3g)", who, f, p, want, pw)
		}
	}
}

// sessCheckNoLeak fails if a session goroutine outlives the test.
func sessCheckNoLeak(t *testing.T) {
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			if !strings.Contains(stacks, "media.(*Session).sendLoop") && !strings.Contains(stacks, "media.(*Session).recvLoop") {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("session goroutines still running after Close:\n%s", stacks)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func sessListen(t testing.TB) *net.UDPConn {
	t.Helper()
	rtp, rtcp, err := ListenRTP(sessLoopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rtcp.Close()
	return rtp
}

func sessAddr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func sessNew(t testing.TB, cfg SessionConfig, opts ...Option) *Session {
	t.Helper()
	if cfg.Codec.Name == "" {
		cfg.Codec = PCMU
	}
	s, err := NewSession(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSessionLoopback runs two sessions against each other over 127.0.0.1 and checks what each
// plays, through hold and inactive and back.
func TestSessionLoopback(t *testing.T) {
	sessCheckNoLeak(t)
	connA, connB := sessListen(t), sessListen(t)
	streamA, streamB := newSessToneStream(1000), newSessToneStream(1400)
	a := sessNew(t, SessionConfig{Conn: connA, Remote: sessAddr(connB), Stream: streamA})
	b := sessNew(t, SessionConfig{Conn: connB, Remote: sessAddr(connA), Stream: streamB})
	a.Start()
	b.Start()

	time.Sleep(time.Second)
	_, heardByB := streamB.played(500 * time.Millisecond)
	_, heardByA := streamA.played(500 * time.Millisecond)
	sessCheckTone(t, "B (from A)", heardByB, 1000)
	sessCheckTone(t, "A (from B)", heardByA, 1400)

	// A holds the call: A sends (its music on hold: here its tone) and does not play, B receives
	// only.
	a.SetDirection(SendOnly)
	b.SetDirection(RecvOnly)
	time.Sleep(100 * time.Millisecond) // let packets in flight land
	sentB := b.Stats().PacketsSent
	framesA, _ := streamA.played(0)
	time.Sleep(500 * time.Millisecond)
	if got := b.Stats().PacketsSent; got != sentB {
		t.Errorf("hold: B (recvonly) sent %d packets, want none", got-sentB)
	}
	if got, _ := streamA.played(0); got != framesA {
		t.Errorf("hold: A (sendonly) played %d frames, want none", got-framesA)
	}
	_, heardByB = streamB.played(400 * time.Millisecond)
	sessCheckTone(t, "B on hold (from A)", heardByB, 1000)

	// Inactive: nothing is sent, nothing played.
	a.SetDirection(Inactive)
	b.SetDirection(Inactive)
	time.Sleep(100 * time.Millisecond)
	sentA, sentB := a.Stats().PacketsSent, b.Stats().PacketsSent
	framesA, _ = streamA.played(0)
	framesB, _ := streamB.played(0)
	time.Sleep(300 * time.Millisecond)
	if got := a.Stats().PacketsSent + b.Stats().PacketsSent; got != sentA+sentB {
		t.Errorf("inactive: %d packets sent, want none", got-sentA-sentB)
	}
	fa, _ := streamA.played(0)
	fb, _ := streamB.played(0)
	if fa != framesA || fb != framesB {
		t.Errorf("inactive: A played %d frames, B %d, want none", fa-framesA, fb-framesB)
	}

	// Resume: both hear each other again.
	a.SetDirection(SendRecv)
	b.SetDirection(SendRecv)
	time.Sleep(800 * time.Millisecond)
	_, heardByB = streamB.played(400 * time.Millisecond)
	_, heardByA = streamA.played(400 * time.Millisecond)
	sessCheckTone(t, "B after resume (from A)", heardByB, 1000)
	sessCheckTone(t, "A after resume (from B)", heardByA, 1400)

	st := b.Stats()
	t.Logf("B stats: %+v", st)
	if st.PacketsReceived == 0 || st.PacketsLost > 2 || st.Late > 2 || st.Duplicates != 0 {
		t.Errorf("B stats on a clean loopback: %+v", st)
	}
	if since := time.Since(b.LastReceived()); since > time.Second {
		t.Errorf("B last received %v ago", since)
	}

	if err := a.Close(); err != nil {
		t.Errorf("close A: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("close A again: %v", err)
	}
	b.Close()
	if !streamA.closed || !streamB.closed {
		t.Errorf("streams closed: A %v B %v, want both", streamA.closed, streamB.closed)
	}
	if _, err := connA.WriteToUDPAddrPort([]byte{0}, sessAddr(connB)); err == nil {
		t.Errorf("socket of A still open after Close")
	}
}

// TestSessionLatching: A was told a wrong address for B (a NAT rewrote it); once B's packets
// arrive, A sends where they come from.
func TestSessionLatching(t *testing.T) {
	sessCheckNoLeak(t)
	connA, connB := sessListen(t), sessListen(t)
	dead := sessListen(t) // a port nobody reads
	defer dead.Close()
	streamA, streamB := newSessToneStream(1000), newSessToneStream(1400)
	a := sessNew(t, SessionConfig{Conn: connA, Remote: sessAddr(dead), Stream: streamA})
	b := sessNew(t, SessionConfig{Conn: connB, Remote: sessAddr(connA), Stream: streamB})
	a.Start()
	b.Start()
	time.Sleep(time.Second)
	if got, want := a.Remote(), sessAddr(connB); got != want {
		t.Errorf("A's remote: got %v, want %v", got, want)
	}
	_, heardByB := streamB.played(400 * time.Millisecond)
	sessCheckTone(t, "B (from latched A)", heardByB, 1000)
}

// TestSessionGarbage sprays B's RTP port with what a hostile or confused network sends, while A
// streams to it: B must stay up, not latch to the sprayer, and keep playing A.
func TestSessionGarbage(t *testing.T) {
	sessCheckNoLeak(t)
	connA, connB := sessListen(t), sessListen(t)
	streamA, streamB := newSessToneStream(1000), newSessToneStream(0)
	a := sessNew(t, SessionConfig{Conn: connA, Remote: sessAddr(connB), Stream: streamA})
	b := sessNew(t, SessionConfig{Conn: connB, Remote: sessAddr(connA), Stream: streamB, TelephoneEventPT: 101})
	a.Start()
	b.Start()

	sprayer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sprayer.Close()
	garbage := sessGarbage()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // returns when stop is closed
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			sprayer.WriteToUDPAddrPort(garbage[i%len(garbage)], sessAddr(connB))
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	_, heardByB := streamB.played(800 * time.Millisecond)
	sessCheckTone(t, "B under garbage (from A)", heardByB, 1000)
	if got := b.Ignored(); got < 100 {
		t.Errorf("ignored datagrams: got %d, want hundreds", got)
	}
	if got, want := b.Remote(), sessAddr(connA); got != want {
		t.Errorf("B's remote: got %v, want %v (it must not latch to garbage)", got, want)
	}
	t.Logf("B stats: %+v, ignored %d", b.Stats(), b.Ignored())
}

// sessGarbage returns datagrams that are not RTP of our payload types.
func sessGarbage() [][]byte {
	var out [][]byte
	rnd := uint32(12345)
	for i := range 20 {
		b := make([]byte, i*17%300)
		for j := range b {
			rnd = rnd*1664525 + 1013904223
			b[j] = byte(rnd >> 24)
		}
		out = append(out, b)
	}
	rr := []byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 11}
	wrongPT := sessRTP(96, 1, 160, 0x55, make([]byte, 160))
	version1 := sessRTP(0, 1, 160, 0x55, make([]byte, 160))
	version1[0] = 0x40
	huge := sessRTP(0, 2, 320, 0x55, make([]byte, 60000))
	short := []byte{0x80, 0, 0, 1}
	badPadding := sessRTP(0, 3, 480, 0x55, []byte{1, 2, 3})
	badPadding[0] |= 0x20
	badPadding[len(badPadding)-1] = 200
	csrcOverrun := sessRTP(0, 4, 640, 0x55, nil)
	csrcOverrun[0] |= 0x0f
	return append(out, rr, sr, wrongPT, version1, huge, short, badPadding, csrcOverrun, nil)
}

// sessRTP builds an RTP packet.
func sessRTP(pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// TestSessionSendFakeClock checks the outgoing stream packet by packet with a fake clock: header
// fields, the marker bit, the timestamp following the clock across a pause and a stall.
func TestSessionSendFakeClock(t *testing.T) {
	sessCheckNoLeak(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}, Clock: clk})
	s.Start()

	read := func() rtp.Packet {
		t.Helper()
		buf := make([]byte, 1500)
		peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("reading the sent packet: %v", err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noPacket := func() {
		t.Helper()
		buf := make([]byte, 1500)
		peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := peer.ReadFromUDPAddrPort(buf); err == nil {
			t.Fatalf("got a packet, want none")
		}
	}
	tick := func(d time.Duration) {
		sessWaitTimers(t, clk, 1)
		clk.Advance(d)
	}

	first := read() // tick 0 is due at once
	if !first.Marker || first.PayloadType != 0 || first.Version != 2 || len(first.Payload) != 160 {
		t.Fatalf("first packet: %v", first.Header)
	}
	prev := first
	for i := range 5 {
		tick(20 * time.Millisecond)
		p := read()
		if p.Marker || p.SSRC != first.SSRC || p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+160 {
			t.Fatalf("packet %d: %v after %v", i+1, p.Header, prev.Header)
		}
		prev = p
	}

	// Inactive for 5 ticks: nothing sent; then the timestamp has moved on with the clock.
	s.SetDirection(Inactive)
	for range 5 {
		tick(20 * time.Millisecond)
	}
	noPacket()
	s.SetDirection(SendRecv)
	tick(20 * time.Millisecond)
	p := read()
	if !p.Marker || p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+6*160 {
		t.Fatalf("after inactive: %v after %v, want marker, next seq, ts +%d", p.Header, prev.Header, 6*160)
	}
	prev = p

	// A stall of 300 ms: one packet, not a burst, timestamp where the clock is.
	tick(300 * time.Millisecond)
	p = read()
	noPacket()
	if !p.Marker || p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+15*160 {
		t.Fatalf("after a stall: %v after %v, want marker, next seq, ts +%d", p.Header, prev.Header, 15*160)
	}

	// Muted: still sending; the microphone fades out over 5 ms (no click), then silence. PCMU
	// silence is 0xff.
	s.SetMuted(true)
	tick(20 * time.Millisecond)
	p = read()
	if !bytes.Equal(p.Payload[40:], bytes.Repeat([]byte{0xff}, 120)) {
		t.Errorf("first muted payload: got % x, want PCMU silence after 5 ms", p.Payload[40:48])
	}
	tick(20 * time.Millisecond)
	p = read()
	if !bytes.Equal(p.Payload, bytes.Repeat([]byte{0xff}, 160)) {
		t.Errorf("muted payload: got % x, want PCMU silence", p.Payload[:8])
	}
	if got := s.Stats().PacketsSent; got != 1+5+1+1+2 {
		t.Errorf("packets sent: got %d, want 10", got)
	}
	s.Close()
}

// TestSessionPlayoutFakeClock feeds packets into a session's receive path and checks what it
// plays, tick by tick: the 40 ms starting delay, concealment that fades to silence (playout.go),
// silence on hold.
func TestSessionPlayoutFakeClock(t *testing.T) {
	sessCheckNoLeak(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	stream := newSessToneStream(0)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: stream, Clock: clk})
	s.Start()
	tick := func() {
		sessWaitTimers(t, clk, 1)
		clk.Advance(20 * time.Millisecond)
	}
	sessWaitTimers(t, clk, 1) // tick 0 done: it played silence
	// A frame of a constant level is easy to follow through G.711.
	loud := make([]byte, 160)
	for i := range loud {
		loud[i] = EncodeULaw(10000)
	}
	level := func(frame int) int16 {
		stream.mu.Lock()
		defer stream.mu.Unlock()
		return stream.written[frame*160+80] // the middle of the frame
	}
	for i := range 4 {
		s.handlePacket(sessRTP(0, uint16(i), uint32(i)*160, 7, loud), sessAddr(peer), clk.Now())
		tick()
	}
	sessWaitTimers(t, clk, 1)
	// Frame 1 waits out the 20 ms starting playout delay, frame 2 plays packet 0.
	for f := 1; f <= 1; f++ {
		if got := level(f); got != 0 {
			t.Errorf("frame %d: got %d, want silence during the playout delay", f, got)
		}
	}
	if got := level(2); got < 9000 {
		t.Errorf("frame 2: got %d, want packet 0 (about 10000)", got)
	}
	// No more packets: 3 packets still queued play, then concealment fades, then silence.
	for range 8 {
		tick()
	}
	sessWaitTimers(t, clk, 1)
	// The concealment of a steady signal: a frame at full level, then 5 % per 10 ms to 40 ms,
	// then 20 % per 10 ms: mid-frame 1, 0.95, 0.7, 0.3, then silence.
	want := []struct{ lo, hi int16 }{
		{9000, 11000}, {9000, 11000}, {9000, 11000}, // packets 1-3
		{9000, 11000}, {9000, 10000}, {6500, 7500}, {2500, 3500},
		{0, 0},
	}
	for i, w := range want {
		if got := level(3 + i); got < w.lo || got > w.hi {
			t.Errorf("frame %d: got %d, want %d-%d", 3+i, got, w.lo, w.hi)
		}
	}
	// On hold (sendonly) nothing is played.
	s.SetDirection(SendOnly)
	before, _ := stream.played(0)
	for range 3 {
		tick()
	}
	sessWaitTimers(t, clk, 1)
	if after, _ := stream.played(0); after != before {
		t.Errorf("sendonly: played %d frames, want none", after-before)
	}
	s.Close()
}

func TestSessionDTMF(t *testing.T) {
	conn := sessListen(t)
	var got []rune
	s := sessNew(t, SessionConfig{Conn: conn, Remote: netip.MustParseAddrPort("127.0.0.1:9"), Stream: sessSilentStream{},
		TelephoneEventPT: 101, OnDTMF: func(d rune) { got = append(got, d) }})
	from := netip.MustParseAddrPort("127.0.0.1:9")
	now := time.Unix(1000, 0)
	ev := func(seq uint16, ts uint32, code uint8, end bool, dur uint16) {
		p := []byte{code, 10, byte(dur >> 8), byte(dur)}
		if end {
			p[1] |= 0x80
		}
		s.handlePacket(sessRTP(101, seq, ts, 9, p), from, now)
	}
	ev(1, 1000, 5, false, 160)
	ev(2, 1000, 5, false, 320)
	ev(3, 1000, 5, true, 480)
	ev(3, 1000, 5, true, 480) // end packet repeated
	ev(3, 1000, 5, true, 480)
	ev(4, 2000, 11, false, 160) // '#' lost its start: still reported once
	ev(4, 2000, 11, true, 320)
	ev(5, 3000, 16, true, 320) // flash: not a digit
	ev(6, 4000, 15, true, 320)
	s.handlePacket(sessRTP(101, 7, 5000, 9, []byte{1, 2}), from, now) // too short
	if string(got) != "5#D" {
		t.Errorf("digits: got %q, want %q", string(got), "5#D")
	}
	if st := s.Stats(); st.PacketsLost != 0 || st.PacketsReceived != 10 {
		t.Errorf("stats: %+v, want 10 received, none lost", st)
	}
}

func TestParseTelephoneEvent(t *testing.T) {
	t.Parallel()
	// RFC 4733 §2.3: event 9, E set, volume 10, duration 800.
	got, ok := parseTelephoneEvent([]byte{9, 0x8a, 0x03, 0x20})
	want := telephoneEvent{Event: 9, End: true, Volume: 10, Duration: 800}
	if !ok || got != want {
		t.Errorf("got %+v %v, want %+v", got, ok, want)
	}
	if _, ok := parseTelephoneEvent([]byte{9, 0x8a, 3}); ok {
		t.Errorf("3 bytes: got ok, want not")
	}
}

func TestNewSessionRejects(t *testing.T) {
	t.Parallel()
	ok := func() SessionConfig {
		return SessionConfig{Conn: sessListen(t), Remote: netip.MustParseAddrPort("127.0.0.1:9"), Codec: PCMU, Stream: sessSilentStream{}}
	}
	tests := map[string]func(*SessionConfig){
		"no conn":      func(c *SessionConfig) { c.Conn.Close(); c.Conn = nil },
		"no stream":    func(c *SessionConfig) { c.Stream = nil },
		"no remote":    func(c *SessionConfig) { c.Remote = netip.AddrPort{} },
		"no codec":     func(c *SessionConfig) { c.Codec = Codec{} },
		"event PT":     func(c *SessionConfig) { c.TelephoneEventPT = 0 + c.Codec.PayloadType + 200 },
		"same PT":      func(c *SessionConfig) { c.TelephoneEventPT = 8; c.Codec = PCMA },
		"direction 17": func(c *SessionConfig) { c.Direction = 17 },
	}
	for name, mod := range tests {
		cfg := ok()
		mod(&cfg)
		if s, err := NewSession(cfg); err == nil {
			s.Close()
			t.Errorf("%s: got no error", name)
		}
	}
	s, err := NewSession(ok())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Start() // after Close: nothing starts
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestDirectionString(t *testing.T) {
	t.Parallel()
	for d, want := range map[Direction]string{SendRecv: "sendrecv", SendOnly: "sendonly", RecvOnly: "recvonly", Inactive: "inactive", 9: "unknown"} {
		if got := d.String(); got != want {
			t.Errorf("%d: got %q, want %q", d, got, want)
		}
	}
}

// sessAllocSession returns an unstarted session whose send path goes to a local socket and whose
// receive path is fed by hand.
func sessAllocSession(t testing.TB) (*Session, netip.AddrPort) {
	conn, peer := sessListen(t), sessListen(t)
	t.Cleanup(func() { peer.Close() })
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}})
	return s, sessAddr(peer)
}

func TestSessionPerPacketAllocs(t *testing.T) {
	s, peer := sessAllocSession(t)
	ts := uint32(0)
	if a := testing.AllocsPerRun(500, func() {
		s.snd.send(ts)
		ts += 160
	}); a != 0 {
		t.Errorf("build+send one packet: got %v allocs, want 0", a)
	}
	var tk int64
	if a := testing.AllocsPerRun(500, func() {
		s.snd.tick(tk, 0)
		tk++
	}); a != 0 {
		t.Errorf("one tick (capture, send, pop, decode, play): got %v allocs, want 0", a)
	}
	pkt := sessRTP(0, 0, 0, 0x99, make([]byte, 160))
	now := time.Unix(1000, 0)
	var seq uint16
	if a := testing.AllocsPerRun(500, func() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		s.handlePacket(pkt, peer, now)
		seq++
		now = now.Add(20 * time.Millisecond)
	}); a != 0 {
		t.Errorf("receive and insert one packet: got %v allocs, want 0", a)
	}
}

// fakeClockSession starts a session of codec on a fake clock that plays into a recording stream,
// and returns once its first tick has run; peer is the far end's address to send from.
func fakeClockSession(t *testing.T, codec Codec) (*Session, *clock.Fake, *net.UDPConn, *sessToneStream) {
	t.Helper()
	sessCheckNoLeak(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := sessListen(t), sessListen(t)
	t.Cleanup(func() { peer.Close() })
	stream := newSessToneStream(0)
	stream.rate = float64(codec.SampleRate)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: stream, Clock: clk, Codec: codec})
	s.Start()
	sessWaitTimers(t, clk, 1)
	return s, clk, peer, stream
}

// tonePackets returns a far end's encoder: each call gives the payload of the next 20 ms of a
// 1004 Hz tone at half scale.
func tonePackets(t *testing.T, codec Codec) func() []byte {
	enc := codec.NewEncoder()
	n := codec.FrameSamples()
	var phase float64
	return func() []byte {
		pcm := make([]int16, n)
		for i := range pcm {
			pcm[i] = int16(16384 * math.Sin(phase))
			phase += 2 * math.Pi * 1004 / float64(codec.SampleRate)
		}
		p, err := enc.Encode(make([]byte, 0, 1500), pcm)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// TestSessionNothingBeforeFirstPacket: the frames a new stream's playout delay waits out were never
// sent, so nothing is concealed for them: they play silence, and the first sound is the first
// packet. The old player ran the decoder's concealment there (Opus: FEC from the first packet, PLC
// from a decoder that had decoded nothing), playing audio that nobody sent.
func TestSessionNothingBeforeFirstPacket(t *testing.T) {
	for _, codec := range []Codec{PCMU, leafCodec(t, "opus")} {
		t.Run(codec.Name, func(t *testing.T) {
			s, clk, peer, stream := fakeClockSession(t, codec)
			// The far end's first packets: a tone at half scale, with Opus's in-band FEC.
			pkt := tonePackets(t, codec)
			n := codec.FrameSamples()
			// Packets 0-5 are encoded (the encoder warms up, FEC appears), 3-5 are sent.
			for range 3 {
				pkt()
			}
			for i := 3; i < 6; i++ {
				s.handlePacket(sessRTP(codec.PayloadType, uint16(i), uint32(i)*codec.TimestampStep(), 7, pkt()), sessAddr(peer), clk.Now())
			}
			for range 4 {
				sessWaitTimers(t, clk, 1)
				clk.Advance(20 * time.Millisecond)
			}
			sessWaitTimers(t, clk, 1)
			stream.mu.Lock()
			played := append([]int16(nil), stream.written...)
			stream.mu.Unlock()
			// Frame 0 ran before the packets; frame 1 waits out the 20 ms delay; frame 2 plays
			// the first packet.
			for f := 0; f < 2 && (f+1)*n <= len(played); f++ {
				var peak int16
				for _, v := range played[f*n : (f+1)*n] {
					peak = max(peak, v, -v)
				}
				if peak != 0 {
					t.Errorf("frame %d, before the first packet is due: peak %d, want silence", f, peak)
				}
			}
			if len(played) < 3*n {
				t.Fatalf("played %d samples, want 3 frames", len(played))
			}
			var peak int16
			for _, v := range played[2*n : 3*n] {
				peak = max(peak, v, -v)
			}
			if peak < 8000 {
				t.Errorf("frame 2: peak %d, want the first packet's tone", peak)
			}
			s.Close()
		})
	}
}

// TestSessionStallNoBurst: when the machine holds the audio goroutine up and it skips frames, the
// frames it skips still reach the decoder (decoded, then dropped), so the audio after the stall
// goes on without a burst. The old player dropped them behind the decoder's back, and Opus then
// decoded the next packet from a stale state: a burst near full scale.
func TestSessionStallNoBurst(t *testing.T) {
	for _, codec := range []Codec{leafCodec(t, "G722"), leafCodec(t, "opus")} {
		t.Run(codec.Name, func(t *testing.T) {
			s, clk, peer, stream := fakeClockSession(t, codec)
			pkt := tonePackets(t, codec)
			seq := 0
			send := func() {
				s.handlePacket(sessRTP(codec.PayloadType, uint16(seq), uint32(seq)*codec.TimestampStep(), 7, pkt()), sessAddr(peer), clk.Now())
				seq++
			}
			for range 50 {
				send()
				sessWaitTimers(t, clk, 1)
				clk.Advance(20 * time.Millisecond)
			}
			// A stall: 8 frames' packets arrive while the goroutine is held, then it runs late.
			for range 8 {
				send()
			}
			clk.Advance(160 * time.Millisecond)
			for range 50 {
				send()
				sessWaitTimers(t, clk, 1)
				clk.Advance(20 * time.Millisecond)
			}
			sessWaitTimers(t, clk, 1)
			s.Close()
			stream.mu.Lock()
			played := append([]int16(nil), stream.written...)
			stream.mu.Unlock()
			var peak int16
			at := 0
			for i, v := range played {
				if max(v, -v) > peak {
					peak, at = max(v, -v), i
				}
			}
			// The tone is at half scale; + 1 dB is 18384.
			if peak > 18384 {
				t.Errorf("peak %d at %.3f s (of %.3f s played), want <= 18384 (the tone + 1 dB)", peak,
					float64(at)/float64(codec.SampleRate), float64(len(played))/float64(codec.SampleRate))
			}
		})
	}
}

// TestMuteFades: muting and unmuting fade the microphone over 5 ms instead of cutting it: a cut
// is a step the far end hears as a click.
func TestMuteFades(t *testing.T) {
	conn := sessListen(t)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: netip.MustParseAddrPort("127.0.0.1:9"), Stream: sessSilentStream{}})
	sn := &s.snd
	frame := func(v int16) []int16 {
		for i := range sn.pcm {
			sn.pcm[i] = v
		}
		return sn.pcm
	}
	frame(10000)
	sn.applyMute(true)
	if sn.pcm[0] < 9700 || sn.pcm[20] >= sn.pcm[0] || sn.pcm[39] > 300 || sn.pcm[40] != 0 || sn.pcm[159] != 0 {
		t.Errorf("muting: samples 0, 20, 39, 40: %d %d %d %d; want a fade from 10000 to 0 over 40 samples", sn.pcm[0], sn.pcm[20], sn.pcm[39], sn.pcm[40])
	}
	frame(10000)
	sn.applyMute(true)
	if sn.pcm[0] != 0 || sn.pcm[159] != 0 {
		t.Errorf("muted: got %d, want silence", sn.pcm[0])
	}
	frame(10000)
	sn.applyMute(false)
	if sn.pcm[0] > 300 || sn.pcm[39] < 9700 || sn.pcm[40] != 10000 {
		t.Errorf("unmuting: samples 0, 39, 40: %d %d %d; want a fade in over 40 samples", sn.pcm[0], sn.pcm[39], sn.pcm[40])
	}
	s.Close()
}

// sessWaitTimers waits until the fake clock has n active timers: the goroutines under test are
// blocked on it.
func sessWaitTimers(t testing.TB, clk *clock.Fake, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Timers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("fake clock: got %d active timers, want %d", clk.Timers(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}
