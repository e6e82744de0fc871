//go:build cgo

// Opus and G.722 are cgo leaf packages (media/codec/...): this file tests them, so it builds
// with cgo only.

package media_test

import (
	"fmt"
	"slices"
	"testing"

	"trayphone/internal/audiotest"
	. "trayphone/media"
	"trayphone/media/codec/g722"
	"trayphone/media/codec/opus"
)

const maxRTPPayload = 1460

type silencer interface{ Silent([]byte) bool }

type concealer interface {
	Decoder
	Conceal(dst []int16, next []byte) ([]int16, error)
}

// roundTrip encodes and decodes seconds of a tone frame by frame with fresh codec state and
// returns the decoded audio after its first 100 ms (encoder lookahead and filter warm-up).
func roundTrip(t *testing.T, c Codec, hz, amp float64, seconds float64) []int16 {
	t.Helper()
	n := c.FrameSamples()
	in := audiotest.Tone(hz, amp, c.SampleRate, int(seconds*float64(c.SampleRate)))
	enc, dec := c.NewEncoder(), c.NewDecoder()
	var out []int16
	payload := make([]byte, 0, maxRTPPayload)
	frame := make([]int16, 0, 6*n)
	for i := 0; i+n <= len(in); i += n {
		p, err := enc.Encode(payload[:0], in[i:i+n])
		if err != nil {
			t.Fatalf("%s encode frame %d: %v", c.Name, i/n, err)
		}
		pcm, err := dec.Decode(frame[:0], p)
		if err != nil {
			t.Fatalf("%s decode frame %d: %v", c.Name, i/n, err)
		}
		if len(pcm) != n {
			t.Fatalf("%s frame %d: got %d samples, want %d", c.Name, i/n, len(pcm), n)
		}
		out = append(out, pcm...)
	}
	return out[c.SampleRate/10:]
}

func TestWidebandToneRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		codec    Codec
		hz       float64
		minSINAD float64
		clicks   int // the codec's own: G.722's 2-bit upper band loses a 6 kHz tone once as it adapts
	}{
		{g722.Codec, 300, 35, 0},
		{g722.Codec, 1004, 35, 0},
		{g722.Codec, 3000, 30, 0},
		{g722.Codec, 6000, 20, 1}, // above G.711's 4 kHz Nyquist: only wideband carries it
		{opus.Codec, 440, 30, 0},
		{opus.Codec, 1004, 30, 0},
		{opus.Codec, 6000, 25, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%gHz", tt.codec.Name, tt.hz), func(t *testing.T) {
			t.Parallel()
			out := roundTrip(t, tt.codec, tt.hz, 0.3, 2)
			c, err := audiotest.MeasureCall(out, tt.codec.SampleRate, tt.hz)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v", c)
			if c.SINADdB < tt.minSINAD || c.Clicks > tt.clicks || c.PeakDBFS > audiotest.DBFS(0.3)+1 {
				t.Errorf("got %v; want SINAD >= %.0f dB, <= %d clicks, peak <= %.1f dBFS", c, tt.minSINAD, tt.clicks, audiotest.DBFS(0.3)+1)
			}
		})
	}
}

func TestWidebandCodecParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c                               Codec
		pt                              uint8
		clock, rate, frame, step, chans int
	}{
		// RFC 3551 §4.5.2: G.722's RTP clock is 8000 although it samples at 16000.
		{g722.Codec, 9, 8000, 16000, 320, 160, 0},
		// RFC 7587 §4.1, §7: 48 kHz clock, rtpmap opus/48000/2.
		{opus.Codec, opus.PayloadType, 48000, 48000, 960, 960, 2},
	}
	for _, tt := range tests {
		c := tt.c
		if c.PayloadType != tt.pt || c.ClockRate != tt.clock || c.SampleRate != tt.rate ||
			c.FrameSamples() != tt.frame || int(c.TimestampStep()) != tt.step || c.Channels != tt.chans {
			t.Errorf("%s: got pt %d clock %d rate %d frame %d step %d channels %d, want %d %d %d %d %d %d",
				c.Name, c.PayloadType, c.ClockRate, c.SampleRate, c.FrameSamples(), c.TimestampStep(), c.Channels,
				tt.pt, tt.clock, tt.rate, tt.frame, tt.step, tt.chans)
		}
		if got, ok := CodecByName(c.Name); !ok || got.Name != c.Name {
			t.Errorf("CodecByName(%q): not registered", c.Name)
		}
	}
}

// TestG722PayloadSize checks the 64 kbit/s framing: 160 bytes per 20 ms, 4 bits per sample.
func TestG722PayloadSize(t *testing.T) {
	t.Parallel()
	enc := g722.Codec.NewEncoder()
	p, err := enc.Encode(nil, make([]int16, 320))
	if err != nil || len(p) != 160 {
		t.Fatalf("Encode(320 samples): got %d bytes, %v; want 160", len(p), err)
	}
	out, err := g722.Codec.NewDecoder().Decode(nil, p)
	if err != nil || len(out) != 320 {
		t.Fatalf("Decode(160 bytes): got %d samples, %v; want 320", len(out), err)
	}
}

// TestG722Deterministic checks that two fresh encoders produce the same bytes: the codec is
// bit-exact, so a far end's G.722 decodes what ours encodes.
func TestG722Deterministic(t *testing.T) {
	t.Parallel()
	in := audiotest.Tone(1000, 0.5, 16000, 320)
	a, _ := g722.Codec.NewEncoder().Encode(nil, in)
	b, _ := g722.Codec.NewEncoder().Encode(nil, in)
	if string(a) != string(b) {
		t.Fatal("two G.722 encoders disagree on the same input")
	}
}

func TestOpusDTXAndConceal(t *testing.T) {
	t.Parallel()
	enc := opus.Codec.NewEncoder()
	silent := 0
	silence := make([]int16, opus.Codec.FrameSamples())
	payload := make([]byte, 0, maxRTPPayload)
	for range 50 {
		p, err := enc.Encode(payload[:0], silence)
		if err != nil {
			t.Fatal(err)
		}
		if enc.(silencer).Silent(p) {
			silent++
		}
	}
	// DTX: after a short hangover only one packet per 400 ms carries anything.
	if silent < 35 {
		t.Errorf("DTX: got %d of 50 silent frames marked silent, want ≥ 35", silent)
	}

	// A lost packet rebuilt from the next one's FEC keeps the tone.
	tone := audiotest.Tone(1000, 0.3, 48000, 48000)
	n := opus.Codec.FrameSamples()
	enc, dec := opus.Codec.NewEncoder(), opus.Codec.NewDecoder().(concealer)
	var packets [][]byte
	for i := 0; i+n <= len(tone); i += n {
		p, err := enc.Encode(make([]byte, 0, maxRTPPayload), tone[i:i+n])
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, p)
	}
	// Every 10 packets, packet 5 is lost and rebuilt from packet 6's FEC; packet 8 is lost
	// with its successor unknown, so only concealment is left. Each frame's level is compared
	// with the clean frames' (about -13.5 dBFS): FEC keeps more of it than plain concealment.
	var out []int16
	buf := make([]int16, 0, 6*n)
	// Medians, not minima: once the encoder moves to CELT for the steady tone a packet has no
	// FEC to give and libopus conceals instead, so a rebuilt frame can be as poor as a concealed
	// one; most are not.
	var fecLevels, plcNextLevels []float64
	for i, p := range packets {
		var pcm []int16
		var err error
		switch {
		case i%10 == 5:
			pcm, err = dec.Conceal(buf[:0], packets[i+1])
		case i%10 == 8:
			pcm, err = dec.Conceal(buf[:0], nil)
		default:
			pcm, err = dec.Decode(buf[:0], p)
		}
		if err != nil || len(pcm) != n {
			t.Fatalf("packet %d: got %d samples, %v", i, len(pcm), err)
		}
		if i >= 10 {
			lvl := audiotest.RMSdBFS(pcm)
			switch i % 10 {
			case 5, 6:
				fecLevels = append(fecLevels, lvl)
			case 9:
				plcNextLevels = append(plcNextLevels, lvl)
			}
		}
		out = append(out, pcm...)
	}
	fecMedian, plcNextMedian := median(fecLevels), median(plcNextLevels)
	if fecMedian < plcNextMedian+2 {
		t.Errorf("frames rebuilt from FEC: median level %.1f dBFS, want 2 dB above plain concealment's %.1f", fecMedian, plcNextMedian)
	}
	t.Logf("median level: FEC-rebuilt frames %.1f dBFS, frames after plain concealment %.1f dBFS", fecMedian, plcNextMedian)
	if a := audiotest.Analyze(out[4800:], 48000); a.DominantHz < 990 || a.DominantHz > 1010 {
		t.Errorf("with 20%% loss concealed: got %v, want the 1000 Hz tone", a)
	}
}

// TestWidebandAllocs checks that encoding and decoding a frame allocates nothing.
func TestWidebandAllocs(t *testing.T) {
	for _, c := range []Codec{g722.Codec, opus.Codec} {
		pcm := audiotest.Tone(1000, 0.3, c.SampleRate, c.FrameSamples())
		enc, dec := c.NewEncoder(), c.NewDecoder()
		payload := make([]byte, 0, maxRTPPayload)
		out := make([]int16, 0, 6*len(pcm))
		allocs := testing.AllocsPerRun(50, func() {
			p, _ := enc.Encode(payload[:0], pcm)
			_, _ = dec.Decode(out[:0], p)
		})
		if allocs != 0 {
			t.Errorf("%s encode+decode: got %.1f allocs per frame, want 0", c.Name, allocs)
		}
	}
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}

// TestOpusConcealRoomyBuffer: the session conceals into a buffer with room for any payload;
// hraban/opus conceals cap(buffer) samples, so Conceal must hand it exactly one frame or libopus
// refuses ("invalid argument") and the session falls back to a fade.
func TestOpusConcealRoomyBuffer(t *testing.T) {
	t.Parallel()
	n := opus.Codec.FrameSamples()
	enc, dec := opus.Codec.NewEncoder(), opus.Codec.NewDecoder().(concealer)
	tone := audiotest.Tone(440, 0.3, 48000, 2*n)
	p1, _ := enc.Encode(make([]byte, 0, maxRTPPayload), tone[:n])
	p2, _ := enc.Encode(make([]byte, 0, maxRTPPayload), tone[n:])
	buf := make([]int16, 0, n+2*maxRTPPayload)
	if _, err := dec.Decode(buf[:0], p1); err != nil {
		t.Fatal(err)
	}
	for _, next := range [][]byte{p2, nil} {
		if pcm, err := dec.Conceal(buf[:0], next); err != nil || len(pcm) != n {
			t.Errorf("Conceal(next %d bytes) into a %d-sample buffer: %d samples, %v", len(next), cap(buf), len(pcm), err)
		}
	}
}
