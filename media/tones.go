package media

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// ToneKind is a call-progress tone a phone plays to its user.
type ToneKind int

// Call-progress tones.
const (
	ToneDial        ToneKind = iota // ready to dial
	ToneRingback                    // the far end is ringing
	ToneBusy                        // the far end is busy
	ToneCongestion                  // the network cannot complete the call (reorder)
	ToneCallWaiting                 // a second call is ringing during this one
)

var toneNames = [...]string{"dial", "ringback", "busy", "congestion", "call-waiting"}

// String returns the tone's name.
func (k ToneKind) String() string {
	if k < 0 || int(k) >= len(toneNames) {
		return "unknown"
	}
	return toneNames[k]
}

// ToneSpec is one tone as ITU-T E.180 (and its Supplement 2, the national tones) describes it:
// one or two frequencies added, or one frequency amplitude-modulated by another ("400×16"), played
// on a cadence of on and off periods that repeats.
type ToneSpec struct {
	// Freqs are the frequencies added, in Hz.
	Freqs []float64
	// ModHz, when set, modulates the tone's amplitude at this rate (E.180 writes "f×m").
	ModHz float64
	// Cadence is on, off, on, off... repeating; empty means continuous.
	Cadence []time.Duration
}

// Tone regions: the values of audio.tone_region.
const (
	RegionUS = "us" // North America (ANSI T1.401 precise tone plan)
	RegionUK = "uk" // United Kingdom (SIN 350)
	RegionEU = "eu" // CEPT / ETSI TR 101 041, the ITU default used across Europe
	RegionJP = "jp" // Japan (NTT)
	RegionAU = "au" // Australia (AS/ACIF S002)
)

func ms(v ...int) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x) * time.Millisecond
	}
	return d
}

// toneTable holds the tones of each region, from ITU-T E.180 Supplement 2 (1994, and its
// national annexes as published by the administrations).
var toneTable = map[string][5]ToneSpec{
	RegionUS: {
		ToneDial:        {Freqs: []float64{350, 440}},
		ToneRingback:    {Freqs: []float64{440, 480}, Cadence: ms(2000, 4000)},
		ToneBusy:        {Freqs: []float64{480, 620}, Cadence: ms(500, 500)},
		ToneCongestion:  {Freqs: []float64{480, 620}, Cadence: ms(250, 250)},
		ToneCallWaiting: {Freqs: []float64{440}, Cadence: ms(300, 9700)},
	},
	RegionUK: {
		ToneDial:        {Freqs: []float64{350, 450}},
		ToneRingback:    {Freqs: []float64{400, 450}, Cadence: ms(400, 200, 400, 2000)},
		ToneBusy:        {Freqs: []float64{400}, Cadence: ms(375, 375)},
		ToneCongestion:  {Freqs: []float64{400}, Cadence: ms(400, 350, 225, 525)},
		ToneCallWaiting: {Freqs: []float64{400}, Cadence: ms(100, 2000)},
	},
	RegionEU: {
		ToneDial:        {Freqs: []float64{425}},
		ToneRingback:    {Freqs: []float64{425}, Cadence: ms(1000, 4000)},
		ToneBusy:        {Freqs: []float64{425}, Cadence: ms(500, 500)},
		ToneCongestion:  {Freqs: []float64{425}, Cadence: ms(250, 250)},
		ToneCallWaiting: {Freqs: []float64{425}, Cadence: ms(200, 200, 200, 4400)},
	},
	RegionJP: {
		ToneDial:        {Freqs: []float64{400}},
		ToneRingback:    {Freqs: []float64{400}, ModHz: 16, Cadence: ms(1000, 2000)},
		ToneBusy:        {Freqs: []float64{400}, Cadence: ms(500, 500)},
		ToneCongestion:  {Freqs: []float64{400}, Cadence: ms(500, 500)},
		ToneCallWaiting: {Freqs: []float64{400}, ModHz: 16, Cadence: ms(500, 100, 500, 3000)},
	},
	RegionAU: {
		ToneDial:        {Freqs: []float64{425}, ModHz: 25},
		ToneRingback:    {Freqs: []float64{400, 450}, Cadence: ms(400, 200, 400, 2000)},
		ToneBusy:        {Freqs: []float64{425}, Cadence: ms(375, 375)},
		ToneCongestion:  {Freqs: []float64{425}, Cadence: ms(375, 375)},
		ToneCallWaiting: {Freqs: []float64{425}, Cadence: ms(200, 200, 200, 4400)},
	},
}

// ToneRegions lists the regions Tone knows, in a fixed order.
func ToneRegions() []string { return []string{RegionUS, RegionUK, RegionEU, RegionJP, RegionAU} }

// Tone returns the tone kind of region (one of ToneRegions; "" or an unknown region is the EU/ITU
// default).
func Tone(region string, kind ToneKind) ToneSpec {
	t, ok := toneTable[strings.ToLower(region)]
	if !ok {
		t = toneTable[RegionEU]
	}
	if kind < 0 || int(kind) >= len(t) {
		return ToneSpec{}
	}
	return t[kind]
}

// RegionFromLocale picks the tone region from the locale in the environment (LC_ALL, then
// LC_MESSAGES, then LANG, as setlocale does): en_US.UTF-8 is "us", en_GB is "uk", ja_JP "jp",
// en_AU "au"; anything else is the EU/ITU default. getenv is os.Getenv outside tests.
func RegionFromLocale(getenv func(string) string) string {
	var loc string
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(k); v != "" {
			loc = v
			break
		}
	}
	// language_TERRITORY.codeset@modifier
	if i := strings.IndexAny(loc, ".@"); i >= 0 {
		loc = loc[:i]
	}
	_, territory, _ := strings.Cut(loc, "_")
	switch strings.ToUpper(territory) {
	case "US", "CA", "PR":
		return RegionUS
	case "GB", "UK":
		return RegionUK
	case "JP":
		return RegionJP
	case "AU", "NZ":
		return RegionAU
	}
	return RegionEU
}

// toneAmplitude is each frequency's peak, a fraction of full scale: about -13 dBm0 per component
// (E.180 §2 asks for -10 to -20 dBm0 per frequency; 0 dBm0 is 3.14 dB below full scale in G.711).
const toneAmplitude = 0.2

// ToneGenerator makes a tone's samples, cadence included; it never ends. It allocates nothing
// after NewToneGenerator and is used by one goroutine.
type ToneGenerator struct {
	spec    ToneSpec
	rate    float64
	n       int64 // samples made
	cycle   int64 // samples in one cadence cycle, 0 for continuous
	bounds  []int64
	phase   []float64
	step    []float64
	modStep float64
	modPh   float64
}

// NewToneGenerator returns a generator of spec at rate samples per second.
func NewToneGenerator(spec ToneSpec, rate int) (*ToneGenerator, error) {
	if rate <= 0 || len(spec.Freqs) == 0 {
		return nil, fmt.Errorf("tone: need a rate and at least one frequency")
	}
	g := &ToneGenerator{spec: spec, rate: float64(rate), phase: make([]float64, len(spec.Freqs))}
	for _, f := range spec.Freqs {
		g.step = append(g.step, 2*math.Pi*f/float64(rate))
	}
	g.modStep = 2 * math.Pi * spec.ModHz / float64(rate)
	var at int64
	for _, d := range spec.Cadence {
		at += int64(d) * int64(rate) / int64(time.Second)
		g.bounds = append(g.bounds, at)
	}
	g.cycle = at
	return g, nil
}

// on reports whether sample n of the cycle is in an on period.
func (g *ToneGenerator) on(n int64) bool {
	if g.cycle == 0 {
		return true
	}
	pos := n % g.cycle
	for i, b := range g.bounds {
		if pos < b {
			return i%2 == 0
		}
	}
	return false
}

// Fill writes the next len(p) samples into p. It always reports true: a tone does not end.
func (g *ToneGenerator) Fill(p []int16) bool {
	amp := toneAmplitude * 32767
	for i := range p {
		var v float64
		if g.on(g.n) {
			for j := range g.step {
				v += math.Sin(g.phase[j])
			}
			if g.modStep != 0 {
				v *= 0.5 * (1 + math.Sin(g.modPh))
			}
			v *= amp
		}
		for j := range g.step {
			g.phase[j] = math.Mod(g.phase[j]+g.step[j], 2*math.Pi)
		}
		g.modPh = math.Mod(g.modPh+g.modStep, 2*math.Pi)
		p[i] = int16(math.Round(v))
		g.n++
	}
	return true
}

// Read fills p, so a generator is the microphone side of a Stream-like source.
func (g *ToneGenerator) Read(p []int16) error {
	g.Fill(p)
	return nil
}
