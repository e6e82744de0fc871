package media

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// goertzelPower returns the power of x at freq (Hann-windowed Goertzel), normalised so a
// full-scale sine gives about 0 dB.
func goertzelPower(x []int16, rate int, freq float64) float64 {
	n := len(x)
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		s := float64(v)/32768*w + coeff*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	return 10 * math.Log10(p/float64(n*n)*16+1e-20)
}

// toneRuns splits x into on/off runs judged over windows of win samples, in milliseconds.
func toneRuns(x []int16, rate, win int) []int {
	var runs []int
	on, length := true, 0
	for i := 0; i+win <= len(x); i += win {
		peak := 0
		for _, v := range x[i : i+win] {
			peak = max(peak, int(math.Abs(float64(v))))
		}
		cur := peak > 300
		if i == 0 {
			on = cur
		}
		if cur != on {
			runs = append(runs, length*1000/rate)
			on, length = cur, 0
		}
		length += win
	}
	return append(runs, length*1000/rate)
}

// TestToneTable generates every region's tones and checks their frequencies (by Goertzel) and
// cadence (by measuring on and off periods) against the table.
func TestToneTable(t *testing.T) {
	t.Parallel()
	const rate = 8000
	candidates := []float64{350, 400, 425, 440, 450, 480, 620}
	for _, region := range ToneRegions() {
		for kind := ToneDial; kind <= ToneCallWaiting; kind++ {
			spec := Tone(region, kind)
			t.Run(region+"/"+kind.String(), func(t *testing.T) {
				t.Parallel()
				g, err := NewToneGenerator(spec, rate)
				if err != nil {
					t.Fatal(err)
				}
				var cycle time.Duration
				for _, d := range spec.Cadence {
					cycle += d
				}
				total := max(2*cycle, 2*time.Second)
				x := make([]int16, int(total)*rate/int(time.Second))
				g.Fill(x)

				// Frequencies, over the first on period (or the first second).
				on := rate
				if len(spec.Cadence) > 0 {
					on = int(spec.Cadence[0]) * rate / int(time.Second)
				}
				seg := x[:on]
				var ref float64 = -200
				for _, f := range spec.Freqs {
					p := goertzelPower(seg, rate, f)
					ref = max(ref, p)
					if p < -30 {
						t.Errorf("%v Hz: power %.1f dB, want a tone (> -30 dB)", f, p)
					}
				}
				for _, c := range candidates {
					near := false
					for _, f := range spec.Freqs {
						if math.Abs(c-f) < spec.ModHz*1.5+10 {
							near = true
						}
					}
					if near {
						continue
					}
					if p := goertzelPower(seg, rate, c); p > ref-25 {
						t.Errorf("%v Hz: power %.1f dB, want 25 dB under the tone's %.1f dB", c, p, ref)
					}
				}

				// Cadence.
				win := rate / 1000 // 1 ms
				if spec.ModHz != 0 {
					win = int(float64(rate)/spec.ModHz) + rate/1000 // a modulation period
				}
				runs := toneRuns(x, rate, win)
				if len(spec.Cadence) == 0 {
					if len(runs) != 1 {
						t.Errorf("continuous tone: runs %v ms, want one", runs)
					}
					return
				}
				tol := 2*win*1000/rate + 2 // a boundary can land anywhere in a window, at both ends
				want := make([]int, 0, 2*len(spec.Cadence))
				for range 2 {
					for _, d := range spec.Cadence {
						want = append(want, int(d/time.Millisecond))
					}
				}
				// The last run of the second cycle is cut by the end of the buffer; compare the rest.
				if len(runs) < len(want)-1 {
					t.Fatalf("runs %v ms, want %v", runs, want)
				}
				for i := range len(want) - 1 {
					if math.Abs(float64(runs[i]-want[i])) > float64(tol) {
						t.Fatalf("runs %v ms, want %v (±%d ms)", runs, want, tol)
					}
				}
			})
		}
	}
}

func TestToneLevel(t *testing.T) {
	t.Parallel()
	g, _ := NewToneGenerator(Tone(RegionEU, ToneDial), 8000)
	x := make([]int16, 8000)
	g.Fill(x)
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	dBFS := 10 * math.Log10(e/float64(len(x))/(32768*32768))
	// -13 dBm0 is about -16 dBFS; E.180 allows -10 to -20 dBm0.
	if dBFS < -24 || dBFS > -13 {
		t.Errorf("dial tone level %.1f dBFS, want -24 to -13", dBFS)
	}
}

func TestRegionFromLocale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LANG": "en_US.UTF-8"}, RegionUS},
		{map[string]string{"LANG": "en_GB.UTF-8"}, RegionUK},
		{map[string]string{"LANG": "ja_JP.eucJP"}, RegionJP},
		{map[string]string{"LANG": "en_AU"}, RegionAU},
		{map[string]string{"LANG": "de_DE.UTF-8"}, RegionEU},
		{map[string]string{"LANG": "C"}, RegionEU},
		{map[string]string{}, RegionEU},
		{map[string]string{"LC_ALL": "en_GB.UTF-8", "LANG": "en_US.UTF-8"}, RegionUK},
		{map[string]string{"LC_MESSAGES": "fr_CA@euro", "LANG": "en_GB"}, RegionUS},
	}
	for _, tt := range tests {
		if got := RegionFromLocale(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.env, got, tt.want)
		}
	}
	if got := Tone("mars", ToneBusy); !slices.Equal(got.Freqs, []float64{425}) {
		t.Errorf("unknown region: got %v, want the EU/ITU default", got)
	}
}

func TestToneGeneratorAllocs(t *testing.T) {
	g, _ := NewToneGenerator(Tone(RegionUS, ToneRingback), 8000)
	buf := make([]int16, 160)
	if a := testing.AllocsPerRun(100, func() { g.Fill(buf) }); a != 0 {
		t.Errorf("got %v allocs per frame, want 0", a)
	}
}

// recordDevice records what is played on it.
type recordDevice struct {
	mu      sync.Mutex
	written []int16
	opened  int
	closed  int
}

func (d *recordDevice) Name() string { return "record" }
func (d *recordDevice) Open(rate, frame int) (Stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opened++
	return &recordStream{d: d}, nil
}

type recordStream struct{ d *recordDevice }

func (s *recordStream) Read(p []int16) error { clear(p); return nil }
func (s *recordStream) Write(p []int16) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.written = append(s.d.written, p...)
	return nil
}
func (s *recordStream) Close() error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.closed++
	return nil
}

// TestPlayback plays a limited tone to its end, and a looping one until Stop.
func TestPlayback(t *testing.T) {
	t.Parallel()
	dev := &recordDevice{}
	g, _ := NewToneGenerator(Tone(RegionEU, ToneBusy), 8000)
	p, err := Play(dev, Limit(g, 100*time.Millisecond, 8000), 8000, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if len(dev.written) != 800 || dev.closed != 1 {
		t.Errorf("played %d samples, closed %d times; want 800 and 1", len(dev.written), dev.closed)
	}

	dev2 := &recordDevice{}
	p, err = Play(dev2, NewLoopSource([]int16{1000, 1000}, time.Millisecond, 8000), 8000, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	p.Stop()
	p.Stop()
	dev2.mu.Lock()
	defer dev2.mu.Unlock()
	if len(dev2.written) == 0 || dev2.closed != 1 {
		t.Errorf("loop: played %d samples, closed %d times; want some and 1", len(dev2.written), dev2.closed)
	}
	if len(dev2.written) >= 10 && !slices.Equal(dev2.written[:10], []int16{1000, 1000, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("loop: got %v, want the sound then 1 ms of silence", dev2.written[:10])
	}
}

func TestDecodeRingtone(t *testing.T) {
	t.Parallel()
	// A WAV made by the writer: 16 kHz stereo becomes 8 kHz mono.
	path := t.TempDir() + "/r.wav"
	w, err := NewWAVWriter(path, 16000, 2)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]int16, 2*16000))
	w.Close()
	pcm, err := LoadWAVMono(path, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) < 8000 || len(pcm) > 8200 {
		t.Errorf("got %d samples, want about 8000", len(pcm))
	}
}

// BenchmarkToneGenerator is one 20 ms frame of a two-frequency tone at 8 kHz.
func BenchmarkToneGenerator(b *testing.B) {
	g, _ := NewToneGenerator(Tone(RegionUS, ToneRingback), 8000)
	buf := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		g.Fill(buf)
	}
}
