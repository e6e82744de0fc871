package media

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"

	"trayphone/internal/clock"
)

// vadNoise returns n samples of white noise at level dBov.
func vadNoise(n int, level float64, seed uint32) []int16 {
	g := noiseGen{state: seed}
	out := make([]int16, n)
	g.fill(out, uint8(-level))
	return out
}

func vadTone(n int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return out
}

// TestVAD runs the detector over 2 s of each input and checks what it decides at the end, and
// that speech is held for the hangover after a tone stops.
func TestVAD(t *testing.T) {
	t.Parallel()
	const frames = 100
	tests := []struct {
		name   string
		pcm    []int16
		speech bool
	}{
		{"tone -13 dBov", vadTone(160*frames, 440, 8000), true},
		{"quiet tone -40 dBov", vadTone(160*frames, 1000, 327*1.41), true},
		{"digital silence", make([]int16, 160*frames), false},
		{"low noise -60 dBov", vadNoise(160*frames, -60, 1), false},
		{"room noise -52 dBov", vadNoise(160*frames, -52, 2), false},
	}
	for _, tt := range tests {
		v := newVAD()
		var got bool
		speechFrames := 0
		for f := range frames {
			got = v.update(tt.pcm[f*160 : (f+1)*160])
			if got {
				speechFrames++
			}
		}
		if got != tt.speech {
			t.Errorf("%s: speech %v at the end (%d of %d frames speech), want %v", tt.name, got, speechFrames, frames, tt.speech)
		}
		if !tt.speech && speechFrames > 0 {
			t.Errorf("%s: %d frames taken for speech, want none", tt.name, speechFrames)
		}
	}

	// A tone, then low noise: speech holds for the hangover, then silence.
	v := newVAD()
	tone, noise := vadTone(160, 440, 8000), vadNoise(160*30, -60, 3)
	for range 20 {
		if !v.update(tone) {
			t.Fatal("tone not speech")
		}
	}
	for f := range 30 {
		got := v.update(noise[f*160 : (f+1)*160])
		if want := f < vadHangoverFrames; got != want {
			t.Errorf("noise frame %d after the tone: speech %v, want %v", f, got, want)
		}
	}
	if l := v.level(); l < 57 || l > 63 {
		t.Errorf("noise level %d -dBov, want about 60", l)
	}
	// A noise that steps up 15 dB: after a few seconds it is background again, not speech.
	loud := vadNoise(160*300, -45, 4)
	var got bool
	for f := range 300 {
		got = v.update(loud[f*160 : (f+1)*160])
	}
	if got {
		t.Errorf("steady -45 dBov noise still speech after 6 s")
	}
}

// TestComfortNoiseLevel checks that the noise played for a level has that level.
func TestComfortNoiseLevel(t *testing.T) {
	t.Parallel()
	var g noiseGen
	out := make([]int16, 8000)
	for _, level := range []uint8{30, 50, 60, 70} {
		g.fill(out, level)
		if got := -dBov(meanSquare(out)); math.Abs(got-float64(level)) > 1 {
			t.Errorf("noise for level %d: %.1f -dBov", level, got)
		}
	}
	g.fill(out, 127)
	if ms := meanSquare(out); ms != 0 {
		t.Errorf("level 127: mean square %g, want digital silence", ms)
	}
}

// vadHalfStream reads a 1 kHz tone for toneFrames frames, then noise at -60 dBov; it records
// what it is given like sessToneStream.
type vadHalfStream struct {
	*sessToneStream
	toneFrames, frames int
	noise              noiseGen
}

func (s *vadHalfStream) Read(p []int16) error {
	s.frames++
	if s.frames <= s.toneFrames {
		return s.sessToneStream.Read(p)
	}
	s.noise.fill(p, 60)
	return nil
}

// TestSessionCNSendFakeClock checks the outgoing stream of a G.711 session with comfort noise:
// audio while the tone plays and through the hangover, then a SID with the noise level, nothing,
// a SID every 300 ms, and the marker on the first packet when the tone comes back.
func TestSessionCNSendFakeClock(t *testing.T) {
	sessCheckNoLeak(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	stream := &vadHalfStream{sessToneStream: newSessToneStream(1000), toneFrames: 10}
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: stream, Clock: clk, ComfortNoisePT: 13})
	s.Start()
	var pkts []rtp.Packet
	buf := make([]byte, 1500)
	drain := func() {
		for {
			peer.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, _, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, p)
		}
	}
	const ticks = 60
	for range ticks - 1 {
		sessWaitTimers(t, clk, 1)
		clk.Advance(20 * time.Millisecond)
	}
	sessWaitTimers(t, clk, 1)
	drain()
	s.Close()

	// Frames 0-9 tone, 10-19 hangover: 20 audio packets. Frame 20: SID; then SIDs at 35, 50.
	var audio, sid int
	ts0 := pkts[0].Timestamp
	wantSID := []uint32{20, 35, 50}
	for i, p := range pkts {
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d, want consecutive", i, p.SequenceNumber, pkts[i-1].SequenceNumber)
		}
		frame := (p.Timestamp - ts0) / 160
		switch p.PayloadType {
		case 0:
			audio++
			if frame >= 20 {
				t.Errorf("audio packet in silent frame %d", frame)
			}
		case 13:
			if sid >= len(wantSID) || frame != wantSID[sid] {
				t.Errorf("SID %d in frame %d, want frames %v", sid, frame, wantSID)
			}
			sid++
			if len(p.Payload) != 1+cnOrder || p.Payload[0] < 57 || p.Payload[0] > 63 || p.Marker {
				t.Errorf("SID %v payload % x, want a level about 60 and %d coefficients, no marker", p.Header, p.Payload, cnOrder)
			}
		default:
			t.Errorf("payload type %d", p.PayloadType)
		}
	}
	if audio != 20 || sid != len(wantSID) {
		t.Errorf("%d audio packets and %d SIDs, want 20 and %d", audio, sid, len(wantSID))
	}
	if got := s.Stats().PacketsSent; got != uint64(len(pkts)) {
		t.Errorf("Stats.PacketsSent %d, want %d", got, len(pkts))
	}
}

// TestSessionCNMarkerAfterSilence: the first audio packet after a silence carries the marker.
func TestSessionCNMarkerAfterSilence(t *testing.T) {
	s, _ := sessAllocSession(t)
	s.snd.vadOn, s.cnPT = true, 13
	var ts uint32
	tick := func(loud bool) {
		if loud {
			copy(s.snd.pcm, vadTone(160, 440, 8000))
		} else {
			clear(s.snd.pcm)
		}
		ts += 160
		var err error
		if s.snd.vadOn && !s.snd.vad.update(s.snd.pcm) {
			err = s.snd.sendSilence(ts)
		} else {
			s.snd.inSilence = false
			err = s.snd.send(ts)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s.snd.marker = false
	for range 3 {
		tick(true)
	}
	for range vadHangoverFrames + 5 {
		tick(false)
	}
	if !s.snd.marker || !s.snd.inSilence {
		t.Fatalf("in silence: marker %v inSilence %v, want both", s.snd.marker, s.snd.inSilence)
	}
	tick(true)
	if s.snd.marker || s.snd.inSilence {
		t.Errorf("after the talkspurt's first packet: marker %v inSilence %v, want neither", s.snd.marker, s.snd.inSilence)
	}
}

// TestSessionCNPlayout feeds audio, a SID and audio again into a session's receive path and
// checks what it plays: the audio, then noise at the SID's level (not a fade to silence), then
// the audio of the next talkspurt. The SID counts as received: no loss.
func TestSessionCNPlayout(t *testing.T) {
	sessCheckNoLeak(t)
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	stream := newSessToneStream(0)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: stream, Clock: clk, ComfortNoisePT: 13, NoVAD: true})
	s.Start()
	// A tick returns once the send goroutine has played it and waits for the next one, so a packet
	// handed in after tick() is always filed after that tick's pop, never before it.
	tick := func() {
		sessWaitTimers(t, clk, 1)
		clk.Advance(20 * time.Millisecond)
		sessWaitTimers(t, clk, 1)
	}
	sessWaitTimers(t, clk, 1)
	loud := bytes.Repeat([]byte{EncodeULaw(10000)}, 160)
	seq := uint16(0)
	send := func(pt uint8, frame int, payload []byte, marker bool) {
		b := sessRTP(pt, seq, uint32(frame)*160, 7, payload)
		if marker {
			b[1] |= 0x80
		}
		s.handlePacket(b, sessAddr(peer), clk.Now())
		seq++
	}
	// Frames 0-3 audio, frame 4 a SID at -50 dBov, nothing for 20 frames, then audio at 25-29.
	for f := range 30 {
		switch {
		case f < 4:
			send(0, f, loud, f == 0)
		case f == 4:
			send(13, f, []byte{50}, false)
		case f >= 25:
			send(0, f, loud, f == 25)
		}
		tick()
	}
	for range 4 {
		tick()
	}
	sessWaitTimers(t, clk, 1)
	s.Close()
	stream.mu.Lock()
	out := append([]int16(nil), stream.written...)
	stream.mu.Unlock()
	frame := func(i int) []int16 { return out[i*160 : (i+1)*160] }
	// Tick 0 ran at Start, so packet f is filed after tick f and, 20 ms of delay later, plays in
	// frame f+2: audio in frames 2-5, comfort noise in 6-26, audio again from 27.
	for i := 2; i <= 5; i++ {
		if l := dBov(meanSquare(frame(i))); l < -15 {
			t.Errorf("frame %d: %.0f dBov, want the audio", i, l)
		}
	}
	for i := 6; i <= 26; i++ {
		if l := dBov(meanSquare(frame(i))); l < -53 || l > -47 {
			t.Errorf("frame %d: %.1f dBov, want comfort noise at -50", i, l)
		}
	}
	for i := 27; i <= 30; i++ {
		if l := dBov(meanSquare(frame(i))); l < -15 {
			t.Errorf("frame %d after the silence: %.0f dBov, want the audio", i, l)
		}
	}
	if st := s.Stats(); st.PacketsLost != 0 || st.PacketsReceived != 10 {
		t.Errorf("stats: %+v, want 10 received, none lost", st)
	}
}

// TestSessionCNAllocs: silence suppression, descriptors and comfort noise allocate nothing per
// packet.
func TestSessionCNAllocs(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	t.Cleanup(func() { peer.Close() })
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}, ComfortNoisePT: 13})
	var tk int64
	if a := testing.AllocsPerRun(500, func() {
		s.snd.tick(tk, 0)
		tk++
	}); a != 0 {
		t.Errorf("silent tick (VAD, SID): got %v allocs, want 0", a)
	}
	from := sessAddr(peer)
	now := time.Unix(1000, 0)
	audio := sessRTP(0, 0, 0, 9, make([]byte, 160))
	sid := sessRTP(13, 1, 160, 9, []byte{60})
	s.handlePacket(audio, from, now)
	if a := testing.AllocsPerRun(500, func() {
		s.handlePacket(sid, from, now)
		s.snd.play()
	}); a != 0 {
		t.Errorf("SID in, comfort noise out: got %v allocs, want 0", a)
	}
}
