package media

import (
	"fmt"
	"math"
)

// Resampler converts mono 16-bit PCM from one sample rate to another with a windowed-sinc
// polyphase filter. When downsampling, its cutoff sits below the output Nyquist frequency, so it
// is also the anti-alias low-pass. It keeps the filter history between calls, so a stream can be
// converted frame by frame; it delays the signal by a few input samples. After the first call,
// Process does not allocate as long as dst has room. It is not safe for concurrent use.
type Resampler struct {
	inRate, outRate int
	up, down        int       // output advances by down input samples every up output samples
	taps            int       // filter taps per side
	filters         []float32 // up phases × 2*taps coefficients
	hist            []float32 // input samples; hist[pos] is the next output position
	pos             int       // integer input position of the next output sample, in hist
	phase           int       // fractional position of the next output sample, in 1/up
}

// Half-width of the filter, in zero crossings of the sinc: more is sharper and slower.
const resampleZeroCrossings = 8

// NewResampler returns a resampler from inRate to outRate samples per second.
func NewResampler(inRate, outRate int) (*Resampler, error) {
	if inRate <= 0 || outRate <= 0 {
		return nil, fmt.Errorf("resample %d Hz to %d Hz: rates must be positive", inRate, outRate)
	}
	g := gcd(inRate, outRate)
	r := &Resampler{inRate: inRate, outRate: outRate, up: outRate / g, down: inRate / g}
	if r.up > 4096 {
		return nil, fmt.Errorf("resample %d Hz to %d Hz: ratio %d/%d is too fine", inRate, outRate, r.up, r.down)
	}
	// cutoff is the pass band edge as a fraction of the input Nyquist frequency.
	cutoff := 1.0
	if outRate < inRate {
		cutoff = float64(outRate) / float64(inRate)
	}
	cutoff *= 0.92
	r.taps = int(math.Ceil(resampleZeroCrossings / cutoff))
	n := 2 * r.taps
	r.filters = make([]float32, r.up*n)
	for ph := 0; ph < r.up; ph++ {
		frac := float64(ph) / float64(r.up)
		coef := r.filters[ph*n : (ph+1)*n]
		var sum float64
		for j := range coef {
			// Tap j weighs input sample pos-taps+1+j; t is its distance from the output instant.
			t := float64(j-r.taps+1) - frac
			x := cutoff * t
			h := cutoff
			if x != 0 {
				h = cutoff * math.Sin(math.Pi*x) / (math.Pi * x)
			}
			// Blackman window over |t| < taps.
			w := 0.0
			if u := t / float64(r.taps); u > -1 && u < 1 {
				a := math.Pi * (u + 1)
				w = 0.42 - 0.5*math.Cos(a) + 0.08*math.Cos(2*a)
			}
			coef[j] = float32(h * w)
			sum += h * w
		}
		for j := range coef {
			coef[j] = float32(float64(coef[j]) / sum) // unity gain at DC
		}
	}
	r.Reset()
	return r, nil
}

// Reset forgets the history, as if the resampler were new.
func (r *Resampler) Reset() {
	if cap(r.hist) < 2*r.taps {
		r.hist = make([]float32, 2*r.taps, 2*r.taps+4096)
	}
	r.hist = r.hist[:2*r.taps]
	clear(r.hist)
	r.pos = r.taps
	r.phase = 0
}

// OutLen returns how many samples Process returns, in the steady state, for n input samples.
func (r *Resampler) OutLen(n int) int { return n * r.up / r.down }

// Process converts src and appends the result to dst, returning it.
func (r *Resampler) Process(dst, src []int16) []int16 {
	if r.up == r.down {
		return append(dst, src...)
	}
	for _, s := range src {
		r.hist = append(r.hist, float32(s))
	}
	n := 2 * r.taps
	// The filter for position pos reads hist[pos-taps+1 : pos+taps+1].
	for r.pos+r.taps < len(r.hist) {
		coef := r.filters[r.phase*n : (r.phase+1)*n]
		win := r.hist[r.pos-r.taps+1 : r.pos+r.taps+1]
		var acc float32
		for j, c := range coef {
			acc += c * win[j]
		}
		dst = append(dst, clamp16(acc))
		r.phase += r.down
		for r.phase >= r.up {
			r.phase -= r.up
			r.pos++
		}
	}
	// Keep only the history the next output needs.
	keep := r.pos - r.taps + 1
	if keep > 0 {
		m := copy(r.hist, r.hist[keep:])
		r.hist = r.hist[:m]
		r.pos -= keep
	}
	return dst
}

// clamp16 rounds v to the nearest int16, saturating.
func clamp16(v float32) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v >= 0:
		return int16(v + 0.5)
	default:
		return int16(v - 0.5)
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Downmix averages interleaved samples of channels channels into mono and appends the result to
// dst, returning it. A trailing partial frame is dropped.
func Downmix(dst, src []int16, channels int) []int16 {
	if channels <= 1 {
		return append(dst, src...)
	}
	for i := 0; i+channels <= len(src); i += channels {
		var sum int32
		for _, s := range src[i : i+channels] {
			sum += int32(s)
		}
		dst = append(dst, int16(sum/int32(channels)))
	}
	return dst
}
