// Package audiotest makes and measures test audio: tones written to WAV files, and the level,
// dominant frequency and tone-to-rest ratio of what a test recorded. End-to-end tests use it to
// check the audio that came out of a call, not just the absence of errors.
package audiotest

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"time"

	"trayphone/media"
)

// Tone returns n samples of a sine at freqHz with amplitude a fraction (0..1) of full scale.
func Tone(freqHz, amplitude float64, rate, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		v := amplitude * 32767 * math.Sin(2*math.Pi*freqHz*float64(i)/float64(rate))
		out[i] = int16(math.Round(max(min(v, 32767), -32768)))
	}
	return out
}

// WriteTone writes a mono 16-bit WAV file holding seconds of a tone.
func WriteTone(path string, freqHz, amplitude float64, rate int, seconds float64) error {
	return WriteWAV(path, Tone(freqHz, amplitude, rate, int(seconds*float64(rate))), rate)
}

// WriteWAV writes mono samples to a 16-bit WAV file.
func WriteWAV(path string, samples []int16, rate int) error {
	w, err := media.NewWAVWriter(path, rate, 1)
	if err != nil {
		return err
	}
	if err := w.Write(samples); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// ReadWAVMono reads a WAV file and averages its channels into one.
func ReadWAVMono(path string) ([]int16, int, error) {
	pcm, rate, channels, err := media.ReadWAV(path)
	if err != nil {
		return nil, 0, err
	}
	if channels > 1 {
		pcm = media.Downmix(nil, pcm, channels)
	}
	return pcm, rate, nil
}

// Analysis summarizes a stretch of audio.
type Analysis struct {
	// RMSdBFS is the RMS level relative to a full-scale square wave (a full-scale sine is
	// about -3 dBFS); silence is -Inf.
	RMSdBFS float64
	// DominantHz is the frequency with the most power, to within a few hertz; 0 for silence.
	DominantHz float64
	// Samples and Rate describe the input.
	Samples int
	Rate    int
}

func (a Analysis) String() string {
	return fmt.Sprintf("%.1f dBFS, dominant %.1f Hz, %d samples at %d Hz", a.RMSdBFS, a.DominantHz, a.Samples, a.Rate)
}

// Analyze measures the level and dominant frequency of samples.
func Analyze(samples []int16, rate int) Analysis {
	a := Analysis{RMSdBFS: RMSdBFS(samples), Samples: len(samples), Rate: rate}
	if len(samples) == 0 || math.IsInf(a.RMSdBFS, -1) {
		return a
	}
	spec, binHz := spectrum(samples, rate)
	best := 1
	for i := 1; i < len(spec); i++ {
		if spec[i] > spec[best] {
			best = i
		}
	}
	// Refine between bins with a parabola through the log magnitudes around the peak.
	f := float64(best)
	if best > 0 && best < len(spec)-1 {
		l, c, r := math.Log(spec[best-1]+1e-12), math.Log(spec[best]+1e-12), math.Log(spec[best+1]+1e-12)
		if d := l - 2*c + r; d != 0 {
			f += 0.5 * (l - r) / d
		}
	}
	a.DominantHz = f * binHz
	return a
}

// RMSdBFS returns the RMS level of samples in dB relative to full scale.
func RMSdBFS(samples []int16) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	var sum float64
	for _, s := range samples {
		v := float64(s) / 32768
		sum += v * v
	}
	return 10 * math.Log10(sum/float64(len(samples)))
}

// ToneSNR returns, in dB, the power within a few hertz of freqHz against the power of everything
// else (DC excluded). A clean tone gives a large number; noise or another tone lowers it.
func ToneSNR(samples []int16, rate int, freqHz float64) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	spec, binHz := spectrum(samples, rate)
	// The Hann window spreads a pure tone over its main lobe, ±2/T Hz for a window of T seconds;
	// take ±5 Hz or 1.5 times that lobe, whichever is wider.
	lobe := 3 * float64(rate) / float64(len(samples))
	half := max(int(math.Ceil(max(5, lobe)/binHz)), 3)
	center := int(math.Round(freqHz / binHz))
	var tone, rest float64
	for i := 1; i < len(spec); i++ {
		if i >= center-half && i <= center+half {
			tone += spec[i]
		} else {
			rest += spec[i]
		}
	}
	if rest == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(tone/rest)
}

// spectrum returns the power spectrum (bins 0..N/2) of the Hann-windowed samples, zero-padded so
// bins are at most 1 Hz apart (and to a power of two), and the bin spacing in hertz.
func spectrum(samples []int16, rate int) ([]float64, float64) {
	n := 1
	for n < len(samples) || n < rate {
		n <<= 1
	}
	x := make([]complex128, n)
	m := len(samples)
	for i, s := range samples {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(max(m-1, 1)))
		x[i] = complex(float64(s)*w, 0)
	}
	fft(x)
	spec := make([]float64, n/2+1)
	for i := range spec {
		a := cmplx.Abs(x[i])
		spec[i] = a * a
	}
	return spec, float64(rate) / float64(n)
}

// fft is an in-place radix-2 FFT; len(x) must be a power of two.
func fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := 0; k < size/2; k++ {
				a, b := x[start+k], x[start+k+size/2]*wk
				x[start+k], x[start+k+size/2] = a+b, a-b
				wk *= w
			}
		}
	}
}

// window is the analysis step of ActiveSpan.
const window = 20 * time.Millisecond

// ActiveSpan returns the start of the first and the end of the last 20 ms window whose level is
// above thresholdDBFS. If no window is, both are zero.
func ActiveSpan(samples []int16, rate int, thresholdDBFS float64) (start, end time.Duration) {
	w := rate * int(window/time.Millisecond) / 1000
	if w <= 0 {
		return 0, 0
	}
	first, last := -1, -1
	for i := 0; i+w <= len(samples); i += w {
		if RMSdBFS(samples[i:i+w]) > thresholdDBFS {
			if first < 0 {
				first = i
			}
			last = i + w
		}
	}
	if first < 0 {
		return 0, 0
	}
	return samplesToDuration(first, rate), samplesToDuration(last, rate)
}

// Trim returns samples between from and to (clamped to the samples).
func Trim(samples []int16, rate int, from, to time.Duration) []int16 {
	i, j := durationToSamples(from, rate), durationToSamples(to, rate)
	i = min(max(i, 0), len(samples))
	j = min(max(j, i), len(samples))
	return samples[i:j]
}

func samplesToDuration(n, rate int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / int64(rate))
}

func durationToSamples(d time.Duration, rate int) int {
	return int(int64(d) * int64(rate) / int64(time.Second))
}

// FarEnd makes far-end audio for echo tests: Gaussian noise with a speech-like spectral tilt
// (each sample leans on the one before), about -16 dBFS, the same from the same seed.
type FarEnd struct {
	rng  *rand.Rand
	prev float64
}

// NewFarEnd returns a FarEnd seeded with seed.
func NewFarEnd(seed uint64) *FarEnd { return &FarEnd{rng: rand.New(rand.NewPCG(seed, seed))} }

// Fill writes the next len(p) samples into p.
func (f *FarEnd) Fill(p []int16) {
	for i := range p {
		v := f.rng.NormFloat64()*5000 + 0.6*f.prev
		f.prev = v
		p[i] = int16(max(-32768, min(32767, v)))
	}
}

// Power returns the mean square of p (0 for no samples).
func Power(p []int16) float64 {
	var e float64
	for _, v := range p {
		e += float64(v) * float64(v)
	}
	return e / float64(max(len(p), 1))
}
