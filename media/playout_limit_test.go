package media

import (
	"math"
	"testing"
)

// TestLimitHoldsEverySample: after a loss, decoded audio is held to the level before it plus
// 0.5 dB, sample by sample. A decoder that resumes louder (G.722 after a frame it never saw, Opus
// after its concealment) may do so at any millisecond of a frame: the limiter used to glide down
// through the millisecond that needed it, letting its first samples through (+1 to +1.3 dB, seen
// after a stall in TestSessionStallNoBurst), and now sees each millisecond coming.
func TestLimitHoldsEverySample(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		for _, at := range []int{0, 1, 5, 19} { // the millisecond of the frame where it gets louder
			var p playout
			p.init(rate, rate)
			frame := p.frame
			tone := func(i int, amp float64) int16 {
				return int16(amp * math.Sin(2*math.Pi*1004*float64(i)/float64(rate)))
			}
			n := 0
			for range 3 {
				pcm := make([]int16, frame)
				for i := range pcm {
					pcm[i] = tone(n, 16384)
					n++
				}
				p.push(pcm)
				p.pull(make([]int16, frame))
			}
			p.lost()
			ceil := 16384 * 1.06
			// Louder by 1.5 dB from millisecond at on, for three frames.
			for f := range 3 {
				pcm := make([]int16, frame)
				for i := range pcm {
					amp := 16384.0
					if f > 0 || i >= at*rate/1000 {
						amp = 19470
					}
					pcm[i] = tone(n, amp)
					n++
				}
				p.push(pcm)
				for i, v := range p.fifo {
					if math.Abs(float64(v)) > ceil+1 {
						t.Fatalf("%d Hz, louder from %d ms: frame %d sample %d is %d, over the hold level %.0f", rate, at, f, i, v, ceil)
					}
				}
				p.pull(make([]int16, frame))
			}
		}
	}
}

// TestLimitNeverAddsGain: the limiter only ever turns audio down. When its time after a loss ran
// out in the middle of a frame, the rest of that frame got a gain rising 0.5 dB a millisecond
// past 1 (seen after hold and resume with baresip: the tone grew to full scale over 18 ms).
func TestLimitNeverAddsGain(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		var p playout
		p.init(rate, rate)
		frame := p.frame
		n := 0
		tone := func() []int16 {
			pcm := make([]int16, frame)
			for i := range pcm {
				pcm[i] = int16(16384 * math.Sin(2*math.Pi*1004*float64(n)/float64(rate)))
				n++
			}
			return pcm
		}
		for range 3 {
			p.push(tone())
			p.pull(make([]int16, frame))
		}
		p.lost()
		// Offset the window's end into the middle of a frame, as a skip or a frame of another
		// length does.
		p.limitLeft += frame / 3
		for f := range 25 { // 500 ms: past the 300 ms window
			in := tone()
			p.push(append([]int16(nil), in...))
			for i, v := range p.fifo {
				if math.Abs(float64(v)) > math.Abs(float64(in[i]))+1 {
					t.Fatalf("%d Hz: frame %d sample %d is %d, louder than the %d decoded", rate, f, i, v, in[i])
				}
			}
			p.pull(make([]int16, frame))
		}
	}
}
