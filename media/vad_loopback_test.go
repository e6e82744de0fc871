package media

import (
	"sync"
	"testing"
	"time"
)

// vadCounter counts the packets a session sends per half of its input, by RTP timestamp.
type vadCounter struct {
	mu          sync.Mutex
	step        uint32
	half        uint32 // frames in the first half
	have        bool
	ts0         uint32
	first, last int
}

func (c *vadCounter) observe(_ time.Time, _ uint16, ts uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.have {
		c.have, c.ts0 = true, ts
	}
	if (ts-c.ts0)/c.step < c.half {
		c.first++
	} else {
		c.last++
	}
}

// TestSessionSilenceLoopback runs two sessions over 127.0.0.1; A's input is 2.5 s of tone, then
// 2.5 s of background noise at -60 dBov. With comfort noise (PCMU) or DTX (Opus), A sends at
// least 80% fewer packets in the silent half (Opus: 70%, libopus's DTX takes longer to start), B loses none, and B plays low-level noise there,
// not digital silence.
func TestSessionSilenceLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of real-time audio")
	}
	for _, tc := range []struct {
		codec Codec
		cnPT  uint8
		fewer int // percent fewer packets in the silent half, at least
	}{{PCMU, 13, 80}, {leafCodec(t, "opus"), 0, 70}} {
		t.Run(tc.codec.Name, func(t *testing.T) {
			t.Parallel()
			sessCheckNoLeak(t)
			const halfFrames = 125
			connA, connB := sessListen(t), sessListen(t)
			rate := float64(tc.codec.SampleRate)
			toneA := newSessToneStream(1000)
			toneA.rate = rate
			streamA := &vadHalfStream{sessToneStream: toneA, toneFrames: halfFrames}
			streamB := newSessToneStream(0)
			streamB.rate = rate
			count := &vadCounter{step: tc.codec.TimestampStep(), half: halfFrames}
			a := sessNew(t, SessionConfig{Conn: connA, Remote: sessAddr(connB), Stream: streamA, Codec: tc.codec, ComfortNoisePT: tc.cnPT},
				WithSendObserver(count.observe))
			b := sessNew(t, SessionConfig{Conn: connB, Remote: sessAddr(connA), Stream: streamB, Codec: tc.codec, ComfortNoisePT: tc.cnPT})
			b.Start()
			a.Start()
			time.Sleep(2*halfFrames*FrameDuration*time.Millisecond + 200*time.Millisecond)
			a.Close()
			st := b.Stats()
			b.Close()

			count.mu.Lock()
			first, last := count.first, count.last
			count.mu.Unlock()
			t.Logf("%s: %d packets in the tone half, %d in the silent half (%.0f%% fewer); B: %+v",
				tc.codec.Name, first, last, 100-100*float64(last)/float64(first), st)
			if first < halfFrames*9/10 || 100*last > (100-tc.fewer)*first {
				t.Errorf("packets: %d in the tone half, %d in the silent half, want at least %d%% fewer", first, last, tc.fewer)
			}
			if st.PacketsLost != 0 {
				t.Errorf("B counted %d packets lost on a clean loopback: silence is not loss", st.PacketsLost)
			}

			// B's output over the silent half, from 0.5 s into it (playout delay and hangover
			// past) to its end.
			streamB.mu.Lock()
			out := append([]int16(nil), streamB.written...)
			streamB.mu.Unlock()
			n := tc.codec.FrameSamples()
			from, to := (halfFrames+25)*n, (2*halfFrames-5)*n
			if len(out) < to {
				t.Fatalf("B played %d samples, want %d", len(out), to)
			}
			sessCheckTone(t, "B's tone half", resampleTo8k(out[25*n:(halfFrames-5)*n], tc.codec.SampleRate), 1000)
			silent := out[from:to]
			level := dBov(meanSquare(silent))
			zero := 0
			for f := 0; f+n <= len(silent); f += n {
				if meanSquare(silent[f:f+n]) == 0 {
					zero++
				}
			}
			t.Logf("B's silent half: %.1f dBov, %d of %d frames digital silence", level, zero, len(silent)/n)
			if level < -80 || level > -45 {
				t.Errorf("B's silent half at %.1f dBov, want low-level comfort noise (input -60 dBov)", level)
			}
			if zero*10 > len(silent)/n {
				t.Errorf("B's silent half: %d of %d frames digital silence", zero, len(silent)/n)
			}
		})
	}
}

// resampleTo8k keeps every rate/8000th sample: enough for sessCheckTone's probe frequencies of
// a clean tone.
func resampleTo8k(x []int16, rate int) []int16 {
	k := rate / 8000
	if k <= 1 {
		return x
	}
	out := make([]int16, 0, len(x)/k)
	for i := 0; i < len(x); i += k {
		out = append(out, x[i])
	}
	return out
}
