package media

import "math"

// Comfort noise, RFC 3389 (https://www.rfc-editor.org/rfc/rfc3389). During the user's silence a
// G.711 or G.722 stream sends a silence insertion descriptor (SID) when the silence starts and
// then every cnSIDFrames instead of audio; the receiver plays noise at the descriptor's level
// until audio comes back, so the line does not sound dead. trayphone sends and reads only the
// noise level byte (§3.1); the optional spectral coefficients (§3.2) are left out when sending
// and ignored when received, and the noise played is white.

// cnSIDFrames is how often a SID repeats during silence: every 300 ms.
const cnSIDFrames = 15

// cnLevel converts a mean square to the RFC 3389 §3.1 noise level, -dBov from 0 to 127.
func cnLevel(ms float64) uint8 {
	l := -dBov(ms)
	switch {
	case l <= 0:
		return 0
	case l >= 127:
		return 127
	}
	return uint8(math.Round(l))
}

// appendCN appends a SID payload with noise level level (-dBov) to dst.
func appendCN(dst []byte, level uint8) []byte { return append(dst, level&0x7f) }

// parseCN reads the noise level of a SID payload; the spectral information after it is ignored.
func parseCN(b []byte) (level uint8, ok bool) {
	if len(b) < 1 || b[0]&0x80 != 0 {
		return 0, false
	}
	return b[0], true
}

// noiseGen makes comfort noise. Its zero value is ready; it allocates nothing.
type noiseGen struct {
	state uint32 // xorshift32 state, never 0 once seeded
}

// fill writes white noise of level level (-dBov) into out.
func (g *noiseGen) fill(out []int16, level uint8) {
	if g.state == 0 {
		g.state = 0x9e3779b9
	}
	// A uniform distribution on [-a, a] has an RMS of a/√3; a full-scale square wave is 0 dBov.
	rms := 32767 * math.Pow(10, -float64(level)/20)
	a := rms * math.Sqrt(3)
	for i := range out {
		x := g.state
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		g.state = x
		u := float64(x)/float64(math.MaxUint32)*2 - 1 // [-1, 1]
		out[i] = int16(math.Round(u * a))
	}
}
