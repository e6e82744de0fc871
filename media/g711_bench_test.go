package media

import (
	"math"
	"testing"
)

func benchmarkCodec(b *testing.B, c Codec) {
	pcm := make([]int16, c.FrameSamples())
	for i := range pcm {
		pcm[i] = int16(12000 * math.Sin(2*math.Pi*440*float64(i)/float64(c.SampleRate)))
	}
	enc, dec := c.NewEncoder(), c.NewDecoder()
	payload := make([]byte, 0, len(pcm))
	out := make([]int16, 0, len(pcm))
	b.SetBytes(int64(2 * len(pcm)))
	b.ReportAllocs()
	for b.Loop() {
		p, _ := enc.Encode(payload[:0], pcm)
		out, _ = dec.Decode(out[:0], p)
	}
}

// BenchmarkPCMUFrame encodes and decodes one 20 ms frame (160 samples) of µ-law.
func BenchmarkPCMUFrame(b *testing.B) { benchmarkCodec(b, PCMU) }

// BenchmarkPCMAFrame encodes and decodes one 20 ms frame (160 samples) of A-law.
func BenchmarkPCMAFrame(b *testing.B) { benchmarkCodec(b, PCMA) }

// BenchmarkG722Frame encodes and decodes one 20 ms frame (320 samples at 16 kHz) of G.722.
func BenchmarkG722Frame(b *testing.B) { benchmarkCodec(b, leafCodec(b, "G722")) }

// BenchmarkOpusFrame encodes and decodes one 20 ms frame (960 samples at 48 kHz) of Opus.
func BenchmarkOpusFrame(b *testing.B) { benchmarkCodec(b, leafCodec(b, "opus")) }
