package media

import (
	"math"
	"testing"
)

// The expected decoder outputs below are G.711 Tables 1a (A-law) and 2a (µ-law): the middle of each
// quantization interval, scaled to 16 bits (A-law ×8, µ-law ×4), indexed by the code word as it
// travels on the line (after the A-law even-bit and µ-law all-bit inversion).
// https://www.itu.int/rec/T-REC-G.711

var wantULaw = [256]int16{
	-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, // 0x00
	-23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764, // 0x08
	-15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412, // 0x10
	-11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316, // 0x18
	-7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140, // 0x20
	-5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092, // 0x28
	-3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, // 0x30
	-2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980, // 0x38
	-1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, // 0x40
	-1372, -1308, -1244, -1180, -1116, -1052, -988, -924, // 0x48
	-876, -844, -812, -780, -748, -716, -684, -652, // 0x50
	-620, -588, -556, -524, -492, -460, -428, -396, // 0x58
	-372, -356, -340, -324, -308, -292, -276, -260, // 0x60
	-244, -228, -212, -196, -180, -164, -148, -132, // 0x68
	-120, -112, -104, -96, -88, -80, -72, -64, // 0x70
	-56, -48, -40, -32, -24, -16, -8, 0, // 0x78
	32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956, // 0x80
	23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764, // 0x88
	15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412, // 0x90
	11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316, // 0x98
	7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140, // 0xA0
	5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092, // 0xA8
	3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004, // 0xB0
	2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980, // 0xB8
	1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, // 0xC0
	1372, 1308, 1244, 1180, 1116, 1052, 988, 924, // 0xC8
	876, 844, 812, 780, 748, 716, 684, 652, // 0xD0
	620, 588, 556, 524, 492, 460, 428, 396, // 0xD8
	372, 356, 340, 324, 308, 292, 276, 260, // 0xE0
	244, 228, 212, 196, 180, 164, 148, 132, // 0xE8
	120, 112, 104, 96, 88, 80, 72, 64, // 0xF0
	56, 48, 40, 32, 24, 16, 8, 0, // 0xF8
}

var wantALaw = [256]int16{
	-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, // 0x00
	-7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784, // 0x08
	-2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, // 0x10
	-3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392, // 0x18
	-22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944, // 0x20
	-30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136, // 0x28
	-11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472, // 0x30
	-15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568, // 0x38
	-344, -328, -376, -360, -280, -264, -312, -296, // 0x40
	-472, -456, -504, -488, -408, -392, -440, -424, // 0x48
	-88, -72, -120, -104, -24, -8, -56, -40, // 0x50
	-216, -200, -248, -232, -152, -136, -184, -168, // 0x58
	-1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, // 0x60
	-1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696, // 0x68
	-688, -656, -752, -720, -560, -528, -624, -592, // 0x70
	-944, -912, -1008, -976, -816, -784, -880, -848, // 0x78
	5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736, // 0x80
	7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784, // 0x88
	2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368, // 0x90
	3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392, // 0x98
	22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944, // 0xA0
	30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136, // 0xA8
	11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472, // 0xB0
	15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568, // 0xB8
	344, 328, 376, 360, 280, 264, 312, 296, // 0xC0
	472, 456, 504, 488, 408, 392, 440, 424, // 0xC8
	88, 72, 120, 104, 24, 8, 56, 40, // 0xD0
	216, 200, 248, 232, 152, 136, 184, 168, // 0xD8
	1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, // 0xE0
	1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696, // 0xE8
	688, 656, 752, 720, 560, 528, 624, 592, // 0xF0
	944, 912, 1008, 976, 816, 784, 880, 848, // 0xF8
}

func TestDecodeTables(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		if got, want := DecodeULaw(byte(c)), wantULaw[c]; got != want {
			t.Errorf("DecodeULaw(%#02x) = %d, want %d", c, got, want)
		}
		if got, want := DecodeALaw(byte(c)), wantALaw[c]; got != want {
			t.Errorf("DecodeALaw(%#02x) = %d, want %d", c, got, want)
		}
	}
}

func TestDecodeKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		law  string
		code byte
		want int16
	}{
		{"µ", 0x00, -32124}, {"µ", 0x80, 32124}, {"µ", 0xFF, 0}, {"µ", 0x7F, 0},
		{"µ", 0xFE, 8}, {"µ", 0x7E, -8}, {"µ", 0xEF, 132}, {"µ", 0xF0, 120},
		{"A", 0xD5, 8}, {"A", 0x55, -8}, {"A", 0xAA, 32256}, {"A", 0x2A, -32256},
		{"A", 0xDA, 248}, {"A", 0xC5, 264},
	} {
		var got int16
		if tc.law == "µ" {
			got = DecodeULaw(tc.code)
		} else {
			got = DecodeALaw(tc.code)
		}
		if got != tc.want {
			t.Errorf("%s-law decode(%#02x) = %d, want %d", tc.law, tc.code, got, tc.want)
		}
	}
}

// TestEncodeSegmentBoundaries checks the code words on both sides of every segment boundary
// (G.711 decision values 31, 95, 223, 479, 991, 2015, 4063 for µ-law in 14 bits; 32, 64, ..., 2048
// for A-law in 13 bits), at both signs, plus silence and clipping.
func TestEncodeSegmentBoundaries(t *testing.T) {
	t.Parallel()
	ulaw := []struct {
		in   int16
		want byte
	}{
		{0, 0xFF}, {-1, 0x7F}, {-4, 0x7E}, {3, 0xFF}, {4, 0xFE},
		{4*31 - 1, 0xF0}, {4 * 31, 0xEF}, {-4 * 31, 0x6F}, {-4*31 + 4, 0x70},
		{4*95 - 1, 0xE0}, {4 * 95, 0xDF},
		{4*223 - 1, 0xD0}, {4 * 223, 0xCF},
		{4*479 - 1, 0xC0}, {4 * 479, 0xBF},
		{4*991 - 1, 0xB0}, {4 * 991, 0xAF},
		{4*2015 - 1, 0xA0}, {4 * 2015, 0x9F},
		{4*4063 - 1, 0x90}, {4 * 4063, 0x8F}, {-4 * 4063, 0x0F},
		{4 * 8158, 0x80}, {math.MaxInt16, 0x80}, {math.MinInt16, 0x00}, {-32124, 0x00},
	}
	for _, tc := range ulaw {
		if got := EncodeULaw(tc.in); got != tc.want {
			t.Errorf("EncodeULaw(%d) = %#02x, want %#02x", tc.in, got, tc.want)
		}
	}
	alaw := []struct {
		in   int16
		want byte
	}{
		{0, 0xD5}, {7, 0xD5}, {-1, 0x55}, {-8, 0x55}, {-9, 0x55}, {-17, 0x54}, {16, 0xD4},
		{8*32 - 1, 0xDA}, {8 * 32, 0xC5}, {-8 * 32, 0x5A}, {-8*32 - 1, 0x45},
		{8*64 - 1, 0xCA}, {8 * 64, 0xF5},
		{8*128 - 1, 0xFA}, {8 * 128, 0xE5},
		{8*256 - 1, 0xEA}, {8 * 256, 0x95},
		{8*512 - 1, 0x9A}, {8 * 512, 0x85},
		{8*1024 - 1, 0x8A}, {8 * 1024, 0xB5},
		{8*2048 - 1, 0xBA}, {8 * 2048, 0xA5}, {-8*2048 - 1, 0x25},
		{math.MaxInt16, 0xAA}, {math.MinInt16, 0x2A},
	}
	for _, tc := range alaw {
		if got := EncodeALaw(tc.in); got != tc.want {
			t.Errorf("EncodeALaw(%d) = %#02x, want %#02x", tc.in, got, tc.want)
		}
	}
}

// TestEncodeTablesMatchFormula checks the table-driven encoders against the computed ones for every
// 16-bit input.
func TestEncodeTablesMatchFormula(t *testing.T) {
	t.Parallel()
	for x := math.MinInt16; x <= math.MaxInt16; x++ {
		if got, want := EncodeULaw(int16(x)), encodeULawFormula(int16(x)); got != want {
			t.Fatalf("EncodeULaw(%d) = %#02x, formula gives %#02x", x, got, want)
		}
		if got, want := EncodeALaw(int16(x)), encodeALawFormula(int16(x)); got != want {
			t.Fatalf("EncodeALaw(%d) = %#02x, formula gives %#02x", x, got, want)
		}
	}
}

// TestRoundTrip checks that every decoder output is a fixed point: it encodes to a code word that
// decodes to the same value.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		if v := DecodeULaw(byte(c)); DecodeULaw(EncodeULaw(v)) != v {
			t.Errorf("µ-law %#02x: decode(encode(%d)) = %d", c, v, DecodeULaw(EncodeULaw(v)))
		}
		if v := DecodeALaw(byte(c)); DecodeALaw(EncodeALaw(v)) != v {
			t.Errorf("A-law %#02x: decode(encode(%d)) = %d", c, v, DecodeALaw(EncodeALaw(v)))
		}
	}
}

// TestMonotonic checks that encode(x) then decode never runs backwards as x increases and stays
// within half a quantization step of x; it covers all 65536 inputs.
func TestMonotonic(t *testing.T) {
	t.Parallel()
	for _, law := range []struct {
		name     string
		enc      func(int16) byte
		dec      func(byte) int16
		maxError int
	}{
		{"µ-law", EncodeULaw, DecodeULaw, 4 * 128}, // top interval of segment 7: ±128 in 14 bits
		{"A-law", EncodeALaw, DecodeALaw, 8 * 64},
	} {
		prev := math.MinInt
		for x := math.MinInt16; x <= math.MaxInt16; x++ {
			y := int(law.dec(law.enc(int16(x))))
			if y < prev {
				t.Fatalf("%s: decode(encode(%d)) = %d, below %d for a smaller input", law.name, x, y, prev)
			}
			if x > 4*8159 || x < -4*8159 {
				continue // beyond µ-law's last decision value: clipped to ±32124
			}
			if d := y - x; d > law.maxError || d < -law.maxError {
				t.Fatalf("%s: decode(encode(%d)) = %d, off by %d", law.name, x, y, d)
			}
			prev = y
		}
	}
}

func TestSineSNR(t *testing.T) {
	t.Parallel()
	for _, c := range []Codec{PCMU, PCMA} {
		pcm := make([]int16, 8000)
		for i := range pcm {
			pcm[i] = int16(16000 * math.Sin(2*math.Pi*1000*float64(i)/8000+0.3))
		}
		payload, err := c.NewEncoder().Encode(nil, pcm)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.NewDecoder().Decode(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(pcm) {
			t.Fatalf("%s: got %d samples, want %d", c.Name, len(out), len(pcm))
		}
		var sig, noise float64
		for i := range pcm {
			s, e := float64(pcm[i]), float64(out[i])-float64(pcm[i])
			sig += s * s
			noise += e * e
		}
		if snr := 10 * math.Log10(sig/noise); snr < 35 {
			t.Errorf("%s: SNR of a 1 kHz sine = %.1f dB, want ≥ 35 dB", c.Name, snr)
		} else {
			t.Logf("%s: SNR %.1f dB", c.Name, snr)
		}
	}
}

func TestCodecs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		pt   uint8
	}{{"PCMU", 0}, {"pcmu", 0}, {"PCMA", 8}, {"pcMa", 8}} {
		c, ok := CodecByName(tc.name)
		if !ok {
			t.Fatalf("CodecByName(%q) not found", tc.name)
		}
		if c.PayloadType != tc.pt || c.ClockRate != 8000 || c.SampleRate != 8000 {
			t.Errorf("CodecByName(%q) = PT %d, clock %d, rate %d; want PT %d, 8000, 8000",
				tc.name, c.PayloadType, c.ClockRate, c.SampleRate, tc.pt)
		}
		if c.FrameSamples() != 160 || c.TimestampStep() != 160 {
			t.Errorf("%s: FrameSamples %d, TimestampStep %d, want 160, 160", c.Name, c.FrameSamples(), c.TimestampStep())
		}
	}
	if _, ok := CodecByName("G729"); ok {
		t.Error("CodecByName(G729) found a codec that is not registered")
	}
}

func TestRegisterCodec(t *testing.T) {
	// Not parallel: it changes the registry, then restores it.
	saved := Codecs()
	t.Cleanup(func() {
		registry.Lock()
		registry.codecs = saved
		registry.Unlock()
	})
	RegisterCodec(Codec{Name: "L16", PayloadType: 11, ClockRate: 8000, SampleRate: 8000})
	if c, ok := CodecByName("l16"); !ok || c.PayloadType != 11 {
		t.Errorf("CodecByName(l16) = %+v, %v; want PT 11, true", c, ok)
	}
	RegisterCodec(Codec{Name: "l16", PayloadType: 99, ClockRate: 8000, SampleRate: 8000})
	if c, _ := CodecByName("L16"); c.PayloadType != 99 {
		t.Errorf("after re-registering, CodecByName(L16) PT = %d, want 99", c.PayloadType)
	}
	if got := len(Codecs()); got != len(saved)+1 {
		t.Errorf("len(Codecs()) = %d, want %d", got, len(saved)+1)
	}
}

func TestCodecAppendsAndDoesNotAllocate(t *testing.T) {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 200)
	}
	for _, c := range []Codec{PCMU, PCMA} {
		enc, dec := c.NewEncoder(), c.NewDecoder()
		payload := make([]byte, 0, 12+160)
		samples := make([]int16, 0, 160)
		allocs := testing.AllocsPerRun(100, func() {
			p, _ := enc.Encode(payload[:0], pcm)
			_, _ = dec.Decode(samples[:0], p)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per encode+decode, want 0", c.Name, allocs)
		}

		head := []byte{0x80, 0x00}
		p, err := enc.Encode(head, pcm[:4])
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 6 || p[0] != 0x80 || p[1] != 0x00 {
			t.Errorf("%s: Encode did not append after the existing bytes: % x", c.Name, p)
		}
		s, err := dec.Decode([]int16{7}, p[2:])
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 5 || s[0] != 7 {
			t.Errorf("%s: Decode did not append after the existing samples: %v", c.Name, s)
		}
	}
}
