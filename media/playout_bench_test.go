package media

import (
	"math"
	"testing"
)

// benchPlayout returns a playout stage at rate with a tone in its history and two frames queued.
func benchPlayout(rate int) (*playout, []int16) {
	p := new(playout)
	p.init(rate, rate)
	tone := make([]int16, p.frame)
	ph := 0.0
	fill := func() {
		for i := range tone {
			tone[i] = int16(16000 * math.Sin(ph))
			ph += 2 * math.Pi * 213 / float64(rate)
		}
	}
	out := make([]int16, p.frame)
	for range 4 {
		fill()
		p.push(tone)
		p.pull(out)
	}
	fill()
	p.push(tone)
	fill()
	p.push(tone)
	return p, out
}

// BenchmarkPlayoutAccelerate is one pitch period taken out of a voiced sound (the period search
// included): what a shrink of the playout delay costs, a step at a time.
func BenchmarkPlayoutAccelerate(b *testing.B) {
	for _, rate := range []int{8000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			p, _ := benchPlayout(rate)
			saved := append([]int16(nil), p.fifo...)
			b.ReportAllocs()
			for b.Loop() {
				p.fifo = append(p.fifo[:0], saved...)
				p.accelerate(p.frame, true)
			}
		})
	}
}

// BenchmarkPlayoutConceal is one frame made up for a lost one (the pitch search included).
func BenchmarkPlayoutConceal(b *testing.B) {
	for _, rate := range []int{8000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			p, _ := benchPlayout(rate)
			b.ReportAllocs()
			for b.Loop() {
				p.fifo = p.fifo[:0]
				p.plcT = 0
				p.conceal(p.frame)
			}
		})
	}
}

// BenchmarkPlayoutSteadyCheck is the test for a quiet or steady moment a pending delay change
// makes every tick until it acts.
func BenchmarkPlayoutSteadyCheck(b *testing.B) {
	for _, rate := range []int{8000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			p, _ := benchPlayout(rate)
			p.fresh = len(p.hist)
			sn := &sender{po: *p}
			b.ReportAllocs()
			for b.Loop() {
				sn.quietOrSteady()
			}
		})
	}
}

func rateName(rate int) string {
	if rate == 8000 {
		return "8k"
	}
	return "48k"
}
