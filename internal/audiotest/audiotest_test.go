package audiotest

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

func TestAnalyzeTone(t *testing.T) {
	t.Parallel()
	for _, rate := range []int{8000, 16000, 44100, 48000} {
		for _, f := range []float64{440, 1000, 1234.5} {
			pcm := Tone(f, 0.5, rate, rate/2)
			a := Analyze(pcm, rate)
			if math.Abs(a.DominantHz-f) > 5 {
				t.Errorf("%d Hz, %v Hz tone: got dominant %.2f Hz, want within 5 Hz", rate, f, a.DominantHz)
			}
			// A sine at amplitude 0.5 has an RMS of 0.5/√2: -9.03 dBFS.
			if math.Abs(a.RMSdBFS-(-9.03)) > 0.1 {
				t.Errorf("%d Hz, %v Hz tone: got %.2f dBFS, want -9.03", rate, f, a.RMSdBFS)
			}
			if snr := ToneSNR(pcm, rate, f); snr < 40 {
				t.Errorf("%d Hz, %v Hz tone: got SNR %.1f dB, want > 40", rate, f, snr)
			}
		}
	}
}

func TestToneSNRWithNoise(t *testing.T) {
	t.Parallel()
	const rate = 8000
	pcm := Tone(440, 0.3, rate, rate)
	// White noise 20 dB below the tone: uniform noise of RMS tone/10.
	toneRMS := 0.3 * 32767 / math.Sqrt2
	noiseAmp := toneRMS / 10 * math.Sqrt(3)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range pcm {
		pcm[i] += int16(math.Round((2*r.Float64() - 1) * noiseAmp))
	}
	snr := ToneSNR(pcm, rate, 440)
	if math.Abs(snr-20) > 1.5 {
		t.Errorf("got SNR %.2f dB, want about 20", snr)
	}
	if a := Analyze(pcm, rate); math.Abs(a.DominantHz-440) > 5 {
		t.Errorf("got dominant %.2f Hz, want 440", a.DominantHz)
	}
}

func TestAnalyzeSilence(t *testing.T) {
	t.Parallel()
	a := Analyze(make([]int16, 800), 8000)
	if !math.IsInf(a.RMSdBFS, -1) || a.DominantHz != 0 {
		t.Errorf("got %v, want -Inf dBFS and 0 Hz", a)
	}
}

func TestActiveSpanAndTrim(t *testing.T) {
	t.Parallel()
	const rate = 8000
	pcm := make([]int16, 2*rate) // 2 s, tone from 0.5 s to 1.5 s
	copy(pcm[rate/2:], Tone(1000, 0.5, rate, rate))
	start, end := ActiveSpan(pcm, rate, -40)
	if start != 500*time.Millisecond || end != 1500*time.Millisecond {
		t.Errorf("got span %v..%v, want 500ms..1.5s", start, end)
	}
	mid := Trim(pcm, rate, start, end)
	if len(mid) != rate {
		t.Errorf("got %d trimmed samples, want %d", len(mid), rate)
	}
	if got := Trim(pcm, rate, 3*time.Second, 4*time.Second); len(got) != 0 {
		t.Errorf("got %d samples trimmed past the end, want 0", len(got))
	}
	if s, e := ActiveSpan(make([]int16, rate), rate, -60); s != 0 || e != 0 {
		t.Errorf("silence: got span %v..%v, want 0..0", s, e)
	}
}

func TestWriteToneRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tone.wav")
	if err := WriteTone(path, 440, 0.25, 16000, 1.5); err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := ReadWAVMono(path)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 16000 || len(pcm) != 24000 {
		t.Fatalf("got %d samples at %d Hz, want 24000 at 16000", len(pcm), rate)
	}
	if a := Analyze(pcm, rate); math.Abs(a.DominantHz-440) > 5 {
		t.Errorf("got dominant %.2f Hz, want 440", a.DominantHz)
	}
}
