//go:build cgo

// Opus and G.722 are cgo leaf packages (media/codec/...): this file tests them, so it builds
// with cgo only.

package media_test

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"trayphone/internal/audiotest"
	"trayphone/internal/clock"
	"trayphone/media"
	"trayphone/media/codec/g722"
	"trayphone/media/codec/opus"
)

// farEnd is a sender of a 1004 Hz tone at half scale in packets of ptime, whose stream a test can
// disturb: a new SSRC, a timestamp jump.
type farEnd struct {
	codec media.Codec
	ptime time.Duration
	enc   media.Encoder
	phase float64
	ssrc  uint32
	seq   uint16
	ts    uint32
}

func newFarEnd(codec media.Codec, ptime time.Duration) *farEnd {
	return &farEnd{codec: codec, ptime: ptime, enc: codec.NewEncoder(), ssrc: 0x1234, seq: 1000, ts: 50000}
}

// packet encodes the next ptime of the tone into an RTP packet.
func (f *farEnd) packet(t *testing.T) []byte {
	t.Helper()
	n := int(f.ptime) * f.codec.SampleRate / int(time.Second)
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(math.Round(16384 * math.Sin(f.phase)))
		f.phase = math.Mod(f.phase+2*math.Pi*1004/float64(f.codec.SampleRate), 2*math.Pi)
	}
	payload, err := f.enc.Encode(make([]byte, 0, 1500), pcm)
	if err != nil {
		t.Fatal(err)
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: f.codec.PayloadType, SequenceNumber: f.seq, Timestamp: f.ts, SSRC: f.ssrc}, Payload: payload}
	f.seq++
	f.ts += uint32(n * f.codec.ClockRate / f.codec.SampleRate)
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder is a Stream that plays silence and records what it is given.
type recorder struct {
	mu     sync.Mutex
	played []int16
}

func (r *recorder) Read(p []int16) error { clear(p); return nil }
func (r *recorder) Write(p []int16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.played = append(r.played, p...)
	return nil
}
func (r *recorder) Close() error { return nil }

// waitTimers waits until the session's send goroutine waits on the fake clock.
func waitTimers(t *testing.T, clk *clock.Fake) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Timers() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("fake clock: %d timers, want 1", clk.Timers())
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// runFarEnd plays seconds of the far end into a session on a fake clock. Every 20 ms tick,
// deliver is asked which of the packets the far end has made so far arrive now (it returns them,
// possibly none); it returns what the session played.
func runFarEnd(t *testing.T, f *farEnd, seconds float64, deliver func(tick int, made [][]byte) [][]byte) []int16 {
	t.Helper()
	clk := clock.NewFake(time.Unix(1000, 0))
	conn, peer := listenLoop(t), listenLoop(t)
	defer peer.Close()
	rec := &recorder{}
	s, err := media.NewSession(media.SessionConfig{Conn: conn, Remote: addrOf(peer), Codec: f.codec, Stream: rec, Clock: clk, Direction: media.RecvOnly})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	var made [][]byte
	made20 := time.Duration(0)
	for tick := 0; tick < int(seconds*50); tick++ {
		waitTimers(t, clk)
		// The far end makes its packets in real time.
		for made20 += 20 * time.Millisecond; made20 >= f.ptime; made20 -= f.ptime {
			made = append(made, f.packet(t))
		}
		var now [][]byte
		now, made = deliver(tick, made), nil
		for _, b := range now {
			s.HandlePacket(b, addrOf(peer), clk.Now())
		}
		clk.Advance(20 * time.Millisecond)
	}
	waitTimers(t, clk)
	s.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]int16(nil), rec.played...)
}

func all(_ int, made [][]byte) [][]byte { return made }

// judgeAfter checks that the tone is back by `back` (no near-silent gap from then on), that it is
// clean from `clean` on (SINAD >= minSINAD, no click, no gap), and that nothing in the whole call
// is above the tone + 1 dB.
func judgeAfter(t *testing.T, codec media.Codec, played []int16, back, clean time.Duration, minSINAD float64) {
	t.Helper()
	whole, err := audiotest.MeasureCall(played, codec.SampleRate, 1004)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("whole: %v", whole)
	if max := audiotest.DBFS(0.5) + 1; whole.PeakDBFS > max {
		t.Errorf("peak %.1f dBFS at %s, want <= %.1f (the tone + 1 dB)", whole.PeakDBFS, whole.PeakAt, max)
	}
	for _, from := range []time.Duration{back, clean} {
		// MeasureCall leaves out 200 ms where the tone starts: start the slice that much earlier.
		i := int((from - 200*time.Millisecond).Seconds() * float64(codec.SampleRate))
		c, err := audiotest.MeasureCall(played[i:], codec.SampleRate, 1004)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("from %s: %v", from, c)
		switch {
		case from == back && c.Gaps > 0:
			t.Errorf("from %s on: %d gaps, want the tone back", from, c.Gaps)
		case from == clean && (c.SINADdB < minSINAD || c.Clicks > 0 || c.Gaps > 0):
			t.Errorf("from %s on: SINAD %.1f dB, %d clicks, %d gaps; want >= %.0f dB, none, none", from, c.SINADdB, c.Clicks, c.Gaps, minSINAD)
		}
	}
}

var badInputCodecs = []struct {
	codec    media.Codec
	minSINAD float64
	ptimes   []time.Duration
}{
	{media.PCMU, 35, []time.Duration{10 * time.Millisecond, 30 * time.Millisecond}},
	{g722.Codec, 35, []time.Duration{10 * time.Millisecond, 30 * time.Millisecond}},
	{opus.Codec, 30, []time.Duration{10 * time.Millisecond, 40 * time.Millisecond}}, // Opus has no 30 ms frame
}

// TestFarEndPacketSizes: a far end that sends 10, 30 (or 40) ms packets is played as cleanly as
// one that sends 20 ms, once the first 100 ms are past.
func TestFarEndPacketSizes(t *testing.T) {
	t.Parallel()
	for _, c := range badInputCodecs {
		for _, ptime := range c.ptimes {
			t.Run(fmt.Sprintf("%s/%s", c.codec.Name, ptime), func(t *testing.T) {
				t.Parallel()
				played := runFarEnd(t, newFarEnd(c.codec, ptime), 3, all)
				judgeAfter(t, c.codec, played, 300*time.Millisecond, 300*time.Millisecond, c.minSINAD)
			})
		}
	}
}

// TestFarEndDisturbed: a far end that changes its SSRC (and sequence and timestamps, and its
// encoder starts afresh), jumps its timestamps, or whose packets are held up by the network for
// 160 ms and then arrive in a burst: within 100 ms the tone is back, no sample of the call is above
// the tone + 1 dB, and from then on it is clean (SINAD >= 30 dB, no click, no gap: the buffer may
// still be moving its delay back, a step at a time). Opus is clean from 250 ms: after a gap its
// SILK layer finds its way back into a steady tone over 100-200 ms whatever the decoder is told
// (plain decoding, its PLC or a new decoder all measure alike, and all overshoot by 4 dB, which the
// playout holds to the level before the gap).
func TestFarEndDisturbed(t *testing.T) {
	t.Parallel()
	const at = 50 // the tick of the disturbance: 1 s into the call
	for _, c := range badInputCodecs {
		for _, tt := range []struct {
			name    string
			deliver func(f *farEnd) func(int, [][]byte) [][]byte
			settled time.Duration // when the disturbance is over
		}{
			{"new SSRC", func(f *farEnd) func(int, [][]byte) [][]byte {
				return func(tick int, made [][]byte) [][]byte {
					if tick == at-1 {
						f.ssrc, f.seq, f.ts, f.enc = 0x98765, 40000, 3_000_000_000, c.codec.NewEncoder()
					}
					return made
				}
			}, time.Second},
			{"timestamp jump", func(f *farEnd) func(int, [][]byte) [][]byte {
				return func(tick int, made [][]byte) [][]byte {
					if tick == at-1 {
						f.ts += 10 * uint32(c.codec.ClockRate)
					}
					return made
				}
			}, time.Second},
			{"burst after a stall", func(*farEnd) func(int, [][]byte) [][]byte {
				var held [][]byte
				return func(tick int, made [][]byte) [][]byte {
					held = append(held, made...)
					if tick >= at && tick < at+8 {
						return nil
					}
					out := held
					held = nil
					return out
				}
			}, time.Second + 160*time.Millisecond},
		} {
			t.Run(c.codec.Name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				f := newFarEnd(c.codec, 20*time.Millisecond)
				played := runFarEnd(t, f, 3, tt.deliver(f))
				clean := tt.settled + 100*time.Millisecond
				if c.codec.Name == opus.Codec.Name {
					clean = tt.settled + 250*time.Millisecond
				}
				judgeAfter(t, c.codec, played, tt.settled+100*time.Millisecond, clean, 30)
			})
		}
	}
}
