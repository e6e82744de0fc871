package audiotest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Whole-call measurement: what a listener hears of a test tone from the moment it starts to the
// moment it ends. Nothing inside the span is left out, so one dropped frame, one click or one
// blast at the start shows in the figures; a median of windows would hide it.

const (
	// edgeTrim is cut from each end of the span in which the tone is present: the call's audio
	// starts and stops there, which is not a fault.
	edgeTrim = 200 * time.Millisecond
	// sinadBlock is the length over which the tone's amplitude and phase are fitted for SINAD.
	// A listener does not hear a slow phase drift (two clocks, a buffer that moved by a whole
	// number of periods), so each block gets its own phase; everything that differs from one
	// steady sinusoid within a block (a gap, a jump, noise, distortion) counts against SINAD.
	sinadBlock = 100 * time.Millisecond
	// clickBlock is the length of the blocks that are checked for clicks.
	clickBlock = 10 * time.Millisecond
	// ClickThresholdDB is the residual level, relative to the tone, above which a 10 ms block
	// counts as a click: what is left after removing the block's best-fit sinusoid.
	ClickThresholdDB = -25
	// GapThresholdDB is how far below the call's tone level a 10 ms block's tone must fall to
	// count as a gap (near silence in the middle of the tone).
	GapThresholdDB = -20
	// presenceDB is how far below the loudest blocks a block's tone may be and still count as the
	// tone being present when the span is looked for.
	presenceDB = -30
)

// Call is what a listener hears of a tone over a whole call.
type Call struct {
	// Start and End bound the span measured: from the first to the last 10 ms in which the tone
	// is present, less edgeTrim at each end.
	Start, End time.Duration
	// FreqHz is the tone's frequency as fitted over the span.
	FreqHz float64
	// ToneDBFS is the RMS level of the fitted tone over the span (a full-scale sine is -3 dBFS).
	ToneDBFS float64
	// SINADdB is the tone's power against everything else over the span, in dB.
	SINADdB float64
	// PeakDBFS is the largest sample of the whole recording, span or not, in dB relative to full
	// scale (0 dBFS is a sample at ±32767).
	PeakDBFS float64
	// PeakAt is where the largest sample is.
	PeakAt time.Duration
	// Clicks is how many 10 ms blocks of the span (laid every 5 ms) have a residual above
	// ClickThresholdDB; ClickAt
	// holds where the first few are.
	Clicks  int
	ClickAt []time.Duration
	// Gaps is how many 10 ms blocks of the span hold the tone more than GapThresholdDB under its
	// level over the span.
	Gaps  int
	GapAt []time.Duration
	// Blocks is how many 10 ms blocks were checked (one every 5 ms).
	Blocks int
	// WorstDB is the SINAD of the worst 100 ms block, at WorstAt: where to look first.
	WorstDB float64
	WorstAt time.Duration
}

func (c Call) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.1f Hz at %.1f dBFS over %s-%s: SINAD %.1f dB, peak %.1f dBFS at %s, %d clicks, %d gaps in %d blocks, worst 100 ms %.1f dB at %s",
		c.FreqHz, c.ToneDBFS, c.Start.Round(time.Millisecond), c.End.Round(time.Millisecond), c.SINADdB,
		c.PeakDBFS, c.PeakAt.Round(time.Millisecond), c.Clicks, c.Gaps, c.Blocks, c.WorstDB, c.WorstAt.Round(time.Millisecond))
	if len(c.ClickAt) > 0 {
		fmt.Fprintf(&b, "; clicks at %v", roundAll(c.ClickAt))
	}
	if len(c.GapAt) > 0 {
		fmt.Fprintf(&b, "; gaps at %v", roundAll(c.GapAt))
	}
	return b.String()
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// maxListed is how many click and gap positions a Call keeps.
const maxListed = 8

// MeasureCall measures a recording of a call that carried a steady tone near freqHz. It fails when
// no tone near freqHz is in the recording long enough to measure.
func MeasureCall(samples []int16, rate int, freqHz float64) (Call, error) {
	x := make([]float64, len(samples))
	peak, peakAt := 0.0, 0
	for i, s := range samples {
		x[i] = float64(s)
		if a := math.Abs(x[i]); a > peak {
			peak, peakAt = a, i
		}
	}
	c := Call{PeakDBFS: 20 * math.Log10(peak/32767), PeakAt: samplesToDuration(peakAt, rate)}
	cb := durationToSamples(clickBlock, rate)
	if cb <= 0 || len(x) < cb {
		return c, fmt.Errorf("recording too short: %d samples", len(x))
	}

	// Where is the tone? Fit it in every 10 ms block and take the blocks that hold it within
	// presenceDB of the loudest tenth.
	nb := len(x) / cb
	pow := make([]float64, nb)
	for k := range nb {
		a, b := fitSine(x[k*cb:(k+1)*cb], rate, freqHz, k*cb)
		pow[k] = (a*a + b*b) / 2
	}
	sorted := append([]float64(nil), pow...)
	sort.Float64s(sorted)
	ref := sorted[len(sorted)*9/10]
	if ref <= 0 || 10*math.Log10(ref/(32767*32767/2)) < -60 {
		return c, fmt.Errorf("no %.0f Hz tone in the recording", freqHz)
	}
	first, last := -1, -1
	for k, p := range pow {
		if p > 0 && 10*math.Log10(p/ref) > presenceDB {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	from := first*cb + durationToSamples(edgeTrim, rate)
	to := (last+1)*cb - durationToSamples(edgeTrim, rate)
	sb := durationToSamples(sinadBlock, rate)
	if to-from < 2*sb {
		return c, fmt.Errorf("the %.0f Hz tone lasts only %s", freqHz, samplesToDuration((last+1-first)*cb, rate))
	}
	c.Start, c.End = samplesToDuration(from, rate), samplesToDuration(to, rate)
	span := x[from:to]

	// The frequency: the spectrum's peak, refined by the phase advance between blocks (robust to
	// a few jumps: the median advance).
	f := Analyze(samples[from:to], rate).DominantHz
	if math.Abs(f-freqHz) > 0.05*freqHz+5 {
		return c, fmt.Errorf("the recording's dominant tone is %.1f Hz, not %.0f Hz", f, freqHz)
	}
	for range 3 {
		var adv []float64
		prev := math.NaN()
		for i := 0; i+sb <= len(span); i += sb {
			a, b := fitSine(span[i:i+sb], rate, f, from+i)
			ph := math.Atan2(b, a)
			if !math.IsNaN(prev) {
				adv = append(adv, math.Remainder(ph-prev, 2*math.Pi))
			}
			prev = ph
		}
		if len(adv) == 0 {
			break
		}
		sort.Float64s(adv)
		f -= adv[len(adv)/2] / (2 * math.Pi * float64(sb) / float64(rate))
	}
	c.FreqHz = f

	// SINAD: per 100 ms block (the last one takes the remainder), the tone against the rest. A
	// jump that falls on a block boundary fits both blocks; so the blocks are laid twice, the
	// second time half a block later, and the two sums are added.
	var tone, rest float64
	c.WorstDB = math.Inf(1)
	for _, start := range []int{0, sb / 2} {
		if start > 0 {
			t, r := residual(span[:start], rate, f, from)
			tone += t
			rest += r
		}
		for i := start; i < len(span); i += sb {
			j := i + sb
			if len(span)-j < sb {
				j = len(span)
			}
			t, r := residual(span[i:j], rate, f, from+i)
			tone += t
			rest += r
			if db := 10 * math.Log10(t/math.Max(r, 1e-9)); db < c.WorstDB {
				c.WorstDB, c.WorstAt = db, samplesToDuration(from+i, rate)
			}
			if j == len(span) {
				break
			}
		}
	}
	level := tone / float64(2*len(span)) // mean square of the tone
	c.ToneDBFS = 10 * math.Log10(level/(32767*32767))
	c.SINADdB = 10 * math.Log10(tone/math.Max(rest, 1e-9))

	// Clicks and gaps: 10 ms blocks every 5 ms, so a jump on one block's edge is inside the next.
	for i := 0; i+cb <= len(span); i += cb / 2 {
		t, r := residual(span[i:i+cb], rate, f, from+i)
		at := samplesToDuration(from+i, rate)
		c.Blocks++
		if 10*math.Log10(math.Max(r/float64(cb), 1e-9)/level) > ClickThresholdDB {
			c.Clicks++
			if len(c.ClickAt) < maxListed {
				c.ClickAt = append(c.ClickAt, at)
			}
		}
		if 10*math.Log10(math.Max(t/float64(cb), 1e-9)/level) < GapThresholdDB {
			c.Gaps++
			if len(c.GapAt) < maxListed {
				c.GapAt = append(c.GapAt, at)
			}
		}
	}
	return c, nil
}

// fitSine returns the least-squares a, b of a·cos(ωn) + b·sin(ωn) over x, where n counts from
// offset (the position of x[0] in the recording) and ω = 2π·freq/rate.
func fitSine(x []float64, rate int, freq float64, offset int) (a, b float64) {
	w := 2 * math.Pi * freq / float64(rate)
	var cc, ss, cs, xc, xs float64
	for i, v := range x {
		ph := w * float64(offset+i)
		co, si := math.Cos(ph), math.Sin(ph)
		cc += co * co
		ss += si * si
		cs += co * si
		xc += v * co
		xs += v * si
	}
	det := cc*ss - cs*cs
	if det == 0 {
		return 0, 0
	}
	return (xc*ss - xs*cs) / det, (xs*cc - xc*cs) / det
}

// residual fits the tone to x and returns the energy of the fitted tone and of what is left.
func residual(x []float64, rate int, freq float64, offset int) (tone, rest float64) {
	a, b := fitSine(x, rate, freq, offset)
	w := 2 * math.Pi * freq / float64(rate)
	for i, v := range x {
		ph := w * float64(offset+i)
		s := a*math.Cos(ph) + b*math.Sin(ph)
		tone += s * s
		d := v - s
		rest += d * d
	}
	return tone, rest
}

// DBFS returns the level in dBFS of a peak amplitude given as a fraction of full scale (0.5 is
// -6.02 dBFS), for comparison with Call.PeakDBFS.
func DBFS(amplitude float64) float64 { return 20 * math.Log10(amplitude) }
