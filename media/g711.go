package media

import (
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// G.711 µ-law and A-law, ITU-T Recommendation G.711 (11/88), "Pulse code modulation (PCM) of voice
// frequencies": https://www.itu.int/rec/T-REC-G.711. The payload formats are PCMU (static payload
// type 0) and PCMA (8), RFC 3551 §4.5.14: https://www.rfc-editor.org/rfc/rfc3551#section-4.5.14.
//
// Linear samples are 16-bit; the standard's 14-bit (µ-law) and 13-bit (A-law) magnitudes are
// scaled up by 4 and 8, so the largest decoded values are ±32124 and ±32256.

// PCMU is G.711 µ-law, the codec North American and Japanese networks use.
var PCMU = Codec{
	Name:        "PCMU",
	PayloadType: 0,
	ClockRate:   8000,
	SampleRate:  8000,
	NewEncoder:  func() Encoder { return ulawEncoder{} },
	NewDecoder:  func() Decoder { return ulawDecoder{} },
}

// PCMA is G.711 A-law, the codec the rest of the world's networks use.
var PCMA = Codec{
	Name:        "PCMA",
	PayloadType: 8,
	ClockRate:   8000,
	SampleRate:  8000,
	NewEncoder:  func() Encoder { return alawEncoder{} },
	NewDecoder:  func() Decoder { return alawDecoder{} },
}

// registry holds the codecs CodecByName knows, in registration order.
var registry = struct {
	sync.RWMutex
	codecs []Codec
}{codecs: []Codec{PCMU, PCMA}}

// RegisterCodec makes c known to CodecByName and Codecs. A codec registered under a name that is
// already known (compared case-insensitively) replaces the earlier one and keeps its position.
// Codec packages call it from init.
func RegisterCodec(c Codec) {
	registry.Lock()
	defer registry.Unlock()
	for i, old := range registry.codecs {
		if strings.EqualFold(old.Name, c.Name) {
			registry.codecs[i] = c
			return
		}
	}
	registry.codecs = append(registry.codecs, c)
}

// CodecByName returns the registered codec with the SDP encoding name name, compared
// case-insensitively ("pcmu" finds PCMU).
func CodecByName(name string) (Codec, bool) {
	registry.RLock()
	defer registry.RUnlock()
	for _, c := range registry.codecs {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Codec{}, false
}

// Codecs returns the registered codecs in registration order (PCMU and PCMA first).
func Codecs() []Codec {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.codecs)
}

// ulawTable and alawTable map every code word to its linear value (G.711 Tables 2a and 1a).
var ulawTable, alawTable = func() (u, a [256]int16) {
	for i := range 256 {
		u[i] = decodeULawFormula(byte(i))
		a[i] = decodeALawFormula(byte(i))
	}
	return u, a
}()

// decodeULawFormula expands a µ-law code word: the bits are inverted on the line, the magnitude is
// ((2·mantissa + 33) << segment) − 33 in 14-bit units (G.711 Table 2a), scaled here by 4.
func decodeULawFormula(code byte) int16 {
	u := ^code
	t := (int(u&0x0F)<<3 + 0x84) << (u & 0x70 >> 4)
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// decodeALawFormula expands an A-law code word: even bits are inverted on the line (XOR 0x55), the
// magnitude is the middle of the quantization interval (G.711 Table 1a), scaled here by 8. A set
// sign bit means positive.
func decodeALawFormula(code byte) int16 {
	a := code ^ 0x55
	t := int(a&0x0F)<<4 + 8
	if seg := a & 0x70 >> 4; seg > 0 {
		t = (t + 0x100) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// DecodeULaw returns the linear value of the µ-law code word code.
func DecodeULaw(code byte) int16 { return ulawTable[code] }

// DecodeALaw returns the linear value of the A-law code word code.
func DecodeALaw(code byte) int16 { return alawTable[code] }

// EncodeULaw compresses a linear sample to a µ-law code word. It looks up the code word for the
// 14-bit magnitude in a table made by encodeULawFormula and sets the sign.
func EncodeULaw(s int16) byte {
	sign := int(s) >> 15 // -1 for negative samples, else 0
	mag := (int(s) ^ sign) - sign
	return ulawEncodeTable[mag>>2] & (0x7F | ^byte(sign))
}

// EncodeALaw compresses a linear sample to an A-law code word. It looks up the code word for the
// 13-bit magnitude in a table made by encodeALawFormula and sets the sign.
func EncodeALaw(s int16) byte {
	v := int(s) >> 3
	sign := v >> 15 // -1 for negative samples, else 0
	mag := v ^ sign // -v-1 for negative samples: A-law has no zero level
	return alawEncodeTable[mag] ^ (0x55 | 0x80&^byte(sign))
}

// ulawEncodeTable maps a 14-bit magnitude to the code word of the positive sample; alawEncodeTable
// maps a 13-bit magnitude to segment and mantissa before the sign and even-bit inversion. Tables
// beat computing the segment by a factor of three and take 12 KiB.
var ulawEncodeTable, alawEncodeTable = func() (u [1<<13 + 1]byte, a [1 << 12]byte) {
	for i := range u {
		u[i] = encodeULawFormula(int16(min(i<<2, 32767)))
	}
	for i := range a {
		a[i] = encodeALawFormula(int16(i<<3)) ^ 0xD5
	}
	return u, a
}()

// encodeULawFormula is G.711 µ-law compression (Table 2a) computed: it works on the 14-bit magnitude
// plus the bias of 33; the segment is the position of the highest set bit, the mantissa the four
// bits below it.
func encodeULawFormula(s int16) byte {
	v := int(s)
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	v >>= 2 // 14-bit magnitude, rounded toward zero so that encoding is symmetric about 0
	// 8158 + 33 = 0x1FFF is the top of segment 7; anything louder clips to the largest code.
	v = min(v, 8158) + 33
	seg := max(bits.Len(uint(v))-6, 0)
	return (byte(seg<<4) | byte(v>>(seg+1))&0x0F) ^ mask
}

// encodeALawFormula is G.711 A-law compression (Table 1a) computed: it works on the 13-bit
// magnitude; segments 0 and 1 share a step size, higher segments double it.
func encodeALawFormula(s int16) byte {
	v := int(s) >> 3 // 13-bit
	mask := byte(0xD5)
	if v < 0 {
		v = -v - 1
		mask = 0x55
	}
	seg := max(bits.Len(uint(v))-5, 0)
	return (byte(seg<<4) | byte(v>>max(seg, 1))&0x0F) ^ mask
}

// ulawEncoder, ulawDecoder, alawEncoder and alawDecoder are stateless: G.711 encodes each sample
// on its own, one byte per sample.
type (
	ulawEncoder struct{}
	ulawDecoder struct{}
	alawEncoder struct{}
	alawDecoder struct{}
)

// Encode appends the µ-law code words for pcm to dst.
func (ulawEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, len(pcm))[:n+len(pcm)]
	out := dst[n:]
	for i, s := range pcm {
		out[i] = EncodeULaw(s)
	}
	return dst, nil
}

// Decode appends the samples of the µ-law payload to dst.
func (ulawDecoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	n := len(dst)
	dst = slices.Grow(dst, len(payload))[:n+len(payload)]
	out := dst[n:]
	for i, c := range payload {
		out[i] = ulawTable[c]
	}
	return dst, nil
}

// Encode appends the A-law code words for pcm to dst.
func (alawEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, len(pcm))[:n+len(pcm)]
	out := dst[n:]
	for i, s := range pcm {
		out[i] = EncodeALaw(s)
	}
	return dst, nil
}

// Decode appends the samples of the A-law payload to dst.
func (alawDecoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	n := len(dst)
	dst = slices.Grow(dst, len(payload))[:n+len(payload)]
	out := dst[n:]
	for i, c := range payload {
		out[i] = alawTable[c]
	}
	return dst, nil
}
