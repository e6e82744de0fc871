package audiotest

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// callTone is 5 s of a tone at 8 kHz with half a second of silence before and after, as a call
// recording has.
func callTone(freq, amp float64, rate int) []int16 {
	pad := make([]int16, rate/2)
	s := append(append([]int16(nil), pad...), Tone(freq, amp, rate, 5*rate)...)
	return append(s, pad...)
}

func TestMeasureCallClean(t *testing.T) {
	t.Parallel()
	for _, rate := range []int{8000, 16000, 48000} {
		for _, f := range []float64{440, 1000, 1234.5} {
			c, err := MeasureCall(callTone(f, 0.5, rate), rate, f)
			if err != nil {
				t.Fatal(err)
			}
			if c.SINADdB < 60 || c.Clicks != 0 || c.Gaps != 0 {
				t.Errorf("%d Hz, %v Hz: %v; want SINAD > 60 dB, no clicks, no gaps", rate, f, c)
			}
			if math.Abs(c.PeakDBFS-DBFS(0.5)) > 0.01 || math.Abs(c.ToneDBFS-(-9.03)) > 0.05 {
				t.Errorf("%d Hz, %v Hz: peak %.2f, tone %.2f dBFS; want -6.02 and -9.03", rate, f, c.PeakDBFS, c.ToneDBFS)
			}
			// The span: the tone's 5 s less 200 ms at each end.
			if d := c.Start - 700*time.Millisecond; d < -10*time.Millisecond || d > 10*time.Millisecond {
				t.Errorf("%d Hz, %v Hz: span starts at %s, want 700 ms", rate, f, c.Start)
			}
			if d := c.End - 5300*time.Millisecond; d < -10*time.Millisecond || d > 10*time.Millisecond {
				t.Errorf("%d Hz, %v Hz: span ends at %s, want 5.3 s", rate, f, c.End)
			}
		}
	}
}

// A tone whose frequency is a little off the one asked for (two sound cards' clocks) is clean.
func TestMeasureCallFollowsFrequency(t *testing.T) {
	t.Parallel()
	c, err := MeasureCall(callTone(1000.4, 0.5, 8000), 8000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.SINADdB < 60 || c.Clicks != 0 || math.Abs(c.FreqHz-1000.4) > 0.01 {
		t.Errorf("%v; want 1000.4 Hz, SINAD > 60 dB, no clicks", c)
	}
}

// A dropped 20 ms frame in the middle of a tone is a click, and costs the call its SINAD.
func TestMeasureCallDroppedFrame(t *testing.T) {
	t.Parallel()
	const rate = 8000
	s := callTone(440, 0.5, rate)
	at := 3 * rate
	s = append(s[:at:at], s[at+160:]...) // the frame at 3 s is thrown away
	c, err := MeasureCall(s, rate, 440)
	if err != nil {
		t.Fatal(err)
	}
	if c.Clicks == 0 || c.SINADdB > 30 {
		t.Errorf("%v; want a click near 3 s and SINAD under 30 dB", c)
	}
	if len(c.ClickAt) > 0 && (c.ClickAt[0] < 2980*time.Millisecond || c.ClickAt[0] > 3010*time.Millisecond) {
		t.Errorf("first click at %s, want at 3 s", c.ClickAt[0])
	}
}

// A gap of silence is counted, and spoils SINAD; so does a burst at full scale, whose peak is seen.
func TestMeasureCallGapAndBlast(t *testing.T) {
	t.Parallel()
	const rate = 8000
	s := callTone(1000, 0.5, rate)
	clear(s[2*rate : 2*rate+400]) // 50 ms of silence at 1.5 s into the tone
	c, err := MeasureCall(s, rate, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gaps < 4 || c.SINADdB > 25 {
		t.Errorf("gap: %v; want >= 4 gap blocks and SINAD under 25 dB", c)
	}

	s = callTone(1000, 0.5, rate)
	r := rand.New(rand.NewPCG(3, 4))
	for i := rate / 2; i < rate/2+rate/5; i++ { // 200 ms of clipping noise where the tone starts
		s[i] = int16(32767 * (2*r.Float64() - 1))
		if i%7 == 0 {
			s[i] = 32767
		}
	}
	c, err = MeasureCall(s, rate, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.PeakDBFS < -0.01 || c.PeakAt < 500*time.Millisecond || c.PeakAt > 700*time.Millisecond {
		t.Errorf("blast: %v; want a 0 dBFS peak between 0.5 and 0.7 s", c)
	}
}

// Noise 30 dB under the tone gives a SINAD of 30 dB and no clicks (it is steady, not a click).
func TestMeasureCallNoise(t *testing.T) {
	t.Parallel()
	const rate = 16000
	s := callTone(700, 0.5, rate)
	toneRMS := 0.5 * 32767 / math.Sqrt2
	r := rand.New(rand.NewPCG(1, 2))
	for i := rate / 2; i < len(s)-rate/2; i++ {
		s[i] += int16(math.Round(r.NormFloat64() * toneRMS / math.Pow(10, 30.0/20)))
	}
	c, err := MeasureCall(s, rate, 700)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.SINADdB-30) > 1 || c.Clicks != 0 {
		t.Errorf("%v; want SINAD 30±1 dB and no clicks", c)
	}
}

func TestMeasureCallNoTone(t *testing.T) {
	t.Parallel()
	if _, err := MeasureCall(make([]int16, 8000), 8000, 1000); err == nil {
		t.Error("silence: no error")
	}
	if _, err := MeasureCall(Tone(440, 0.5, 8000, 8000), 8000, 1000); err == nil {
		t.Error("a 440 Hz tone measured as 1000 Hz: no error")
	}
}
