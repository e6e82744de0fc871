package media_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	. "trayphone/media"
)

// leakyRoom is a Device whose microphone hears the speaker delay later at gain, plus near(i),
// the near-end sound at sample i: an echo path for tests.
type leakyRoom struct {
	delay int
	gain  float64
	near  func(i int) int16
}

func (r *leakyRoom) Name() string { return "room" }

func (r *leakyRoom) Open(rate, frame int) (Stream, error) {
	return &leakyStream{r: r, line: make([]float64, 0, 1<<20)}, nil
}

type leakyStream struct {
	r    *leakyRoom
	line []float64 // everything played, from sample 0
	pos  int       // samples captured so far
}

func (s *leakyStream) Read(p []int16) error {
	for i := range p {
		v := float64(s.r.near(s.pos))
		if j := s.pos - s.r.delay; j >= 0 && j < len(s.line) {
			v += s.r.gain * s.line[j]
		}
		p[i] = int16(max(-32768, min(32767, math.Round(v))))
		s.pos++
	}
	return nil
}

func (s *leakyStream) Write(p []int16) error {
	for _, v := range p {
		s.line = append(s.line, float64(v))
	}
	return nil
}

func (s *leakyStream) Close() error { return nil }

// TestEchoCancellation plays noise-like far-end audio into a room that leaks it back into the
// microphone 35 ms later at -6 dB; after convergence the processed microphone carries at least
// 15 dB less of it (ERLE), with and without the noise suppressor.
func TestEchoCancellation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts ProcessingOptions
		rate int
	}{
		{"echo canceller only, 8 kHz", ProcessingOptions{EchoCancel: true}, 8000},
		{"default processing, 8 kHz", DefaultProcessing, 8000},
		{"default processing, 16 kHz", DefaultProcessing, 16000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rate, frame := tt.rate, tt.rate/50
			room := &leakyRoom{delay: 35 * rate / 1000, gain: 0.5, near: func(int) int16 { return 0 }}
			st, err := WithProcessing(room, tt.opts).Open(rate, frame)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			farEnd := audiotest.NewFarEnd(7)
			far := make([]int16, frame)
			mic := make([]int16, frame)
			var inE, outE float64
			frames := 10 * 50 // 10 s
			for f := range frames {
				if err := st.Read(mic); err != nil {
					t.Fatal(err)
				}
				if f >= frames-3*50 { // the last 3 s
					outE += audiotest.Power(mic)
				}
				farEnd.Fill(far)
				if err := st.Write(far); err != nil {
					t.Fatal(err)
				}
				if f >= frames-3*50 {
					inE += audiotest.Power(far) * room.gain * room.gain
				}
			}
			erle := 10 * math.Log10(inE/max(outE, 1e-9))
			t.Logf("ERLE %.1f dB", erle)
			if erle < 15 {
				t.Errorf("ERLE %.1f dB, want >= 15 dB", erle)
			}
		})
	}
}

// TestNoiseSuppression records a 1 kHz tone, on for half a second and off for the next (as speech
// comes and goes), in white noise: the processed microphone has a lower noise floor in the pauses
// and keeps the tone.
func TestNoiseSuppression(t *testing.T) {
	t.Parallel()
	const rate, frame = 8000, 160
	tone := audiotest.Tone(1000, 0.25, rate, rate/2) // -15 dBFS
	near := func(rng *rand.Rand) func(i int) int16 {
		return func(i int) int16 {
			v := rng.NormFloat64() * 1000 // -30 dBFS
			if (i/(rate/2))%2 == 0 {
				v += float64(tone[i%len(tone)])
			}
			return int16(max(-32768, min(32767, v)))
		}
	}
	st, err := WithProcessing(&leakyRoom{near: near(rand.New(rand.NewPCG(3, 3)))}, ProcessingOptions{NoiseSuppression: true}).Open(rate, frame)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []int16
	buf := make([]int16, frame)
	for range 10 * 50 {
		if err := st.Read(buf); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf...)
	}
	in := make([]int16, len(out))
	gen := near(rand.New(rand.NewPCG(3, 3)))
	for i := range in {
		in[i] = gen(i)
	}
	// Half-second segments of the last 5 s, skipping 100 ms at each edge.
	seg := func(p []int16, on bool) []int16 {
		var r []int16
		for s := 10; s < 20; s++ {
			if (s%2 == 0) != on {
				continue
			}
			from := time.Duration(s)*500*time.Millisecond + 100*time.Millisecond
			r = append(r, audiotest.Trim(p, rate, from, from+300*time.Millisecond)...)
		}
		return r
	}
	noiseIn, noiseOut := audiotest.RMSdBFS(seg(in, false)), audiotest.RMSdBFS(seg(out, false))
	toneIn, toneOut := audiotest.Analyze(seg(in, true), rate), audiotest.Analyze(seg(out, true), rate)
	snrIn, snrOut := audiotest.ToneSNR(seg(in, true), rate, 1000), audiotest.ToneSNR(seg(out, true), rate, 1000)
	t.Logf("noise floor %.1f -> %.1f dBFS; tone %v -> %v; tone SNR %.1f -> %.1f dB", noiseIn, noiseOut, toneIn, toneOut, snrIn, snrOut)
	if noiseOut > noiseIn-10 {
		t.Errorf("noise floor %.1f dBFS after suppression, want at least 10 dB under %.1f dBFS", noiseOut, noiseIn)
	}
	if math.Abs(toneOut.DominantHz-1000) > 20 || toneOut.RMSdBFS < toneIn.RMSdBFS-3 {
		t.Errorf("tone after suppression: %v, want 1000 Hz within 3 dB of %v", toneOut, toneIn)
	}
	if snrOut < snrIn {
		t.Errorf("tone SNR %.1f dB after suppression, want at least the %.1f dB before", snrOut, snrIn)
	}
}

// TestEchoCancellerKeepsNearEnd checks the canceller does not eat the user's voice: with the far
// end silent, a near-end tone comes through within 3 dB. (The noise suppressor would, rightly,
// take a tone that never changes for noise: TestNoiseSuppression covers it with a tone that comes
// and goes.)
func TestEchoCancellerKeepsNearEnd(t *testing.T) {
	t.Parallel()
	const rate, frame = 8000, 160
	tone := audiotest.Tone(440, 0.25, rate, rate)
	room := &leakyRoom{delay: 280, gain: 0.5, near: func(i int) int16 { return tone[i%len(tone)] }}
	st, err := WithProcessing(room, ProcessingOptions{EchoCancel: true}).Open(rate, frame)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []int16
	buf, silent := make([]int16, frame), make([]int16, frame)
	for range 5 * 50 {
		st.Read(buf)
		out = append(out, buf...)
		st.Write(silent)
	}
	got := audiotest.Analyze(audiotest.Trim(out, rate, 3*time.Second, 5*time.Second), rate)
	want := audiotest.Analyze(tone, rate)
	if math.Abs(got.DominantHz-440) > 10 || got.RMSdBFS < want.RMSdBFS-3 {
		t.Errorf("near end after processing: %v, want 440 Hz within 3 dB of %v", got, want)
	}
}

// TestProcessingOff returns the device itself when everything is off.
func TestProcessingOff(t *testing.T) {
	t.Parallel()
	dev := NewNull()
	if got := WithProcessing(dev, ProcessingOptions{}); got != dev {
		t.Errorf("got %v, want the device itself", got)
	}
}

// TestProcessingAllocs checks a processed Read and Write allocate nothing.
func TestProcessingAllocs(t *testing.T) {
	st, err := WithProcessing(NewNull(), DefaultProcessing).Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	buf := make([]int16, 160)
	if a := testing.AllocsPerRun(100, func() { st.Read(buf); st.Write(buf) }); a != 0 {
		t.Errorf("got %v allocs per frame, want 0", a)
	}
}

// TestSoundCardProcessing leaves file and null devices alone.
func TestSoundCardProcessing(t *testing.T) {
	t.Parallel()
	dev := NewNull()
	if got := WithSoundCardProcessing(dev, DefaultProcessing); got != dev {
		t.Errorf("null device: got %v, want it unprocessed", got)
	}
}

// BenchmarkProcessing is one 20 ms frame through the echo canceller and noise suppressor.
func BenchmarkProcessing(b *testing.B) {
	for _, rate := range []int{8000, 16000, 48000} {
		b.Run(fmt.Sprintf("%dk", rate/1000), func(b *testing.B) {
			room := &leakyRoom{delay: rate / 50, gain: 0.5, near: func(i int) int16 { return int16(i * 7919 % 2000) }}
			st, err := WithProcessing(room, DefaultProcessing).Open(rate, rate/50)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			f := make([]int16, rate/50)
			b.ReportAllocs()
			for b.Loop() {
				st.Read(f)
				st.Write(f)
			}
		})
	}
}

// gappyRoom is a leakyRoom whose microphone has a gap at Read number gapAt: the Read returns
// silence (the room's audio of that moment is lost, the timeline goes on) and, when counts is
// set, says so as a GapCounter.
type gappyRoom struct {
	*leakyRoom
	gapAt  int
	counts bool
}

func (r gappyRoom) Open(rate, frame int) (Stream, error) {
	s, err := r.leakyRoom.Open(rate, frame)
	if err != nil {
		return nil, err
	}
	g := &gappyStream{Stream: s, gapAt: r.gapAt}
	if r.counts {
		return countingGaps{g}, nil
	}
	return g, nil
}

type gappyStream struct {
	Stream
	gapAt, reads int
	gaps         uint64
}

func (g *gappyStream) Read(p []int16) error {
	err := g.Stream.Read(p)
	if g.reads == g.gapAt {
		clear(p)
		g.gaps++
	}
	g.reads++
	return err
}

type countingGaps struct{ *gappyStream }

func (c countingGaps) ReadGaps() uint64 { return c.gaps }

// TestProcessingSilencesGaps: a frame the microphone could not fill (a GapCounter says so) goes
// out as silence, not as the canceller's echo estimate subtracted from nothing; and the
// canceller keeps the echo after it.
func TestProcessingSilencesGaps(t *testing.T) {
	t.Parallel()
	const rate, frame, gapAt = 8000, 160, 250
	for _, counts := range []bool{false, true} {
		room := &leakyRoom{delay: 140 * rate / 1000, gain: 1, near: func(int) int16 { return 0 }}
		st, err := WithProcessing(gappyRoom{room, gapAt, counts}, DefaultProcessing).Open(rate, frame)
		if err != nil {
			t.Fatal(err)
		}
		farEnd := audiotest.NewFarEnd(5)
		far, mic := make([]int16, frame), make([]int16, frame)
		var gapPower, farE, micE float64
		for f := range 400 {
			if err := st.Read(mic); err != nil {
				t.Fatal(err)
			}
			farEnd.Fill(far)
			if err := st.Write(far); err != nil {
				t.Fatal(err)
			}
			switch {
			case f == gapAt:
				gapPower = audiotest.Power(mic)
			case f >= 400-100: // the last 2 s
				farE += audiotest.Power(far)
				micE += audiotest.Power(mic)
			}
		}
		st.Close()
		gapDB := 10 * math.Log10(max(gapPower, 1e-9)/(farE/100))
		erle := 10 * math.Log10(farE/max(micE, 1e-9))
		t.Logf("gap reported %v: gap frame at %.1f dB of the far end, ERLE after %.1f dB", counts, gapDB, erle)
		if counts && gapPower != 0 {
			t.Errorf("reported gap: processed frame has power %.0f (%.1f dB of the far end), want silence", gapPower, gapDB)
		}
		if !counts && gapDB < -40 {
			t.Errorf("unreported gap at %.1f dB of the far end: the test no longer shows what it guards against", gapDB)
		}
		if erle < 15 {
			t.Errorf("ERLE %.1f dB after the gap, want >= 15", erle)
		}
	}
}
