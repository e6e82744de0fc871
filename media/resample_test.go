package media

import (
	"math"
	"slices"
	"testing"
)

// tone returns n samples of a sine at freq with the given peak.
func tone(freq, peak float64, rate, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(peak * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return out
}

func rms(p []int16) float64 {
	var s float64
	for _, v := range p {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(p)))
}

// goertzelAmp returns the amplitude of freq in p.
func goertzelAmp(p []int16, freq float64, rate int) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range p {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(power) / float64(len(p))
}

func TestResamplerKeepsTone(t *testing.T) {
	t.Parallel()
	rates := []int{8000, 16000, 44100, 48000}
	for _, in := range rates {
		for _, out := range rates {
			r, err := NewResampler(in, out)
			if err != nil {
				t.Fatal(err)
			}
			src := tone(440, 10000, in, in) // 1 s
			var dst []int16
			frameIn := in / 50
			for i := 0; i+frameIn <= len(src); i += frameIn {
				before := len(dst)
				dst = r.Process(dst, src[i:i+frameIn])
				if got, want := len(dst)-before, out/50; got != want {
					t.Fatalf("%d->%d: frame %d gave %d samples, want %d", in, out, i/frameIn, got, want)
				}
			}
			// Skip the filter's start-up.
			body := dst[out/10:]
			if a := goertzelAmp(body, 440, out); math.Abs(a-10000) > 200 {
				t.Errorf("%d->%d: got 440 Hz amplitude %.0f, want 10000", in, out, a)
			}
			if residue := math.Sqrt(max(rms(body)*rms(body)-10000*10000/2, 0)); residue > 100 {
				t.Errorf("%d->%d: got %.0f RMS besides the tone, want < 100", in, out, residue)
			}
		}
	}
}

func TestResamplerAntiAlias(t *testing.T) {
	t.Parallel()
	for _, in := range []int{16000, 44100, 48000} {
		r, err := NewResampler(in, 8000)
		if err != nil {
			t.Fatal(err)
		}
		// 5 kHz is above 8 kHz's Nyquist: it would alias to 3 kHz.
		dst := r.Process(nil, tone(5000, 10000, in, in))
		body := dst[800:]
		if a := rms(body); a > 100 {
			t.Errorf("%d->8000: 5 kHz leaks through at RMS %.0f (of 7071), want < 100", in, a)
		}
	}
}

func TestResamplerChunkingInvariant(t *testing.T) {
	t.Parallel()
	src := tone(1000, 8000, 44100, 44100/5)
	whole, _ := NewResampler(44100, 16000)
	want := whole.Process(nil, src)
	chunked, _ := NewResampler(44100, 16000)
	var got []int16
	for i := 0; i < len(src); i += 77 {
		got = chunked.Process(got, src[i:min(i+77, len(src))])
	}
	if !slices.Equal(got, want) {
		t.Errorf("chunked output differs from whole-buffer output (%d vs %d samples)", len(got), len(want))
	}
}

func TestResamplerNoAllocs(t *testing.T) {
	r, _ := NewResampler(48000, 8000)
	src := tone(440, 1000, 48000, 960)
	dst := make([]int16, 0, 160)
	r.Process(dst, src) // warm-up
	allocs := testing.AllocsPerRun(100, func() { dst = r.Process(dst[:0], src) })
	if allocs != 0 {
		t.Errorf("got %.1f allocations per frame, want 0", allocs)
	}
}

func TestDownmix(t *testing.T) {
	t.Parallel()
	got := Downmix(nil, []int16{100, 300, -32768, -32768, 32767, 32767, 5}, 2)
	if want := []int16{200, -32768, 32767}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
