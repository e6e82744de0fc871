package media

import "math"

// Comfort noise, RFC 3389 (https://www.rfc-editor.org/rfc/rfc3389). During the user's silence a
// G.711 or G.722 stream sends a silence insertion descriptor (SID) when the silence starts and
// then every cnSIDFrames instead of audio; the receiver plays noise like the sender's background
// until audio comes back, so the line does not sound dead.
//
// A SID is the noise level (§3.1) and, optionally, the spectral envelope of the noise as the
// reflection coefficients of an all-pole model (§3.2), one byte each; the model order is the
// payload length less one (§3). trayphone sends both: cnAnalyzer averages the autocorrelation of
// the user's silent frames, and at each SID a Levinson-Durbin recursion turns it into cnOrder
// reflection coefficients. It reads both: noiseGen.play drives the all-pole lattice filter the
// coefficients describe with white noise, scaled so that the result has the SID's level. A SID
// with the level alone (what many phones send; baresip 1.0 neither sends nor negotiates CN) plays
// white noise at that level, as before; coefficients past cnMaxOrder are dropped, which §3
// allows (a decoder may set the higher-order ones to zero).
//
// The coefficient conventions are those of the WebRTC and FFmpeg CN codecs, which agree: the
// model is 1/A(z), A(z) = 1 + a1·z^-1 + ... + aM·z^-M, and the last coefficient of the order-i
// predictor is k_i, so k_1 = -r(1)/r(0) and a background louder in the bass has k_1 < 0. A
// coefficient k travels as the byte 127 + round(128·k), 0-254; a byte N reads as (N-127)/128,
// 255 as 254. (bcg729's RFC 3389 reader differs in step and sign.) The analysis and the
// synthesis run at the stream's sampling rate, 8 kHz for G.711 and 16 kHz for G.722, as WebRTC's
// do; CN's RTP clock stays 8000.

const (
	// cnSIDFrames is how often a SID repeats during silence: every 300 ms.
	cnSIDFrames = 15
	// cnOrder is the model order trayphone sends: 10 coefficients (FFmpeg's CN encoder sends 10
	// too), enough for the smooth envelope of a background at 8 or 16 kHz.
	cnOrder = 10
	// cnMaxOrder is the highest model order trayphone plays (WebRTC's CN goes up to 12).
	cnMaxOrder = 12
	// cnMaxFrame is the longest frame cnAnalyzer looks at whole: 20 ms at 48 kHz.
	cnMaxFrame = 960
	// cnAvgFrames is over how many silent frames cnAnalyzer averages: 320 ms. Background noise
	// changes slowly; the average carries over from one pause to the next.
	cnAvgFrames = 16
	// cnSmooth is how far the played filter moves towards a new descriptor's per frame.
	cnSmooth = 0.5
	// cnMaxOver is how much more power than its level a frame of comfort noise may have: 10 dB.
	cnMaxOver = 10
)

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

// cnQuantize returns the RFC 3389 §3.2 byte of reflection coefficient k: 127 + round(128·k),
// kept within 0-254 (|k| ≤ 127/128).
func cnQuantize(k float64) uint8 {
	if math.IsNaN(k) {
		return 127
	}
	return uint8(min(max(math.Round(128*k)+127, 0), 254))
}

// cnDequantize returns the reflection coefficient of byte q: (q-127)/128, with 255 read as 254
// so that |k| < 1 and the synthesis filter is stable.
func cnDequantize(q uint8) float64 { return float64(int(min(q, 254))-127) / 128 }

// cnSID is one silence insertion descriptor, RFC 3389 §3.
type cnSID struct {
	level uint8             // noise level, -dBov 0-127 (§3.1)
	order uint8             // how many of k hold coefficients: 0 for a level-only SID
	k     [cnMaxOrder]uint8 // reflection coefficients k_1..k_order, as sent (§3.2)
}

// appendCN appends the payload of SID d to dst: the level byte, then the coefficients.
func appendCN(dst []byte, d *cnSID) []byte {
	dst = append(dst, d.level&0x7f)
	return append(dst, d.k[:min(d.order, cnMaxOrder)]...)
}

// parseCN reads a SID payload. It refuses an empty one and one whose level byte has its unused
// top bit set; coefficients past cnMaxOrder are ignored.
func parseCN(b []byte) (cnSID, bool) {
	if len(b) < 1 || b[0]&0x80 != 0 {
		return cnSID{}, false
	}
	d := cnSID{level: b[0]}
	d.order = uint8(copy(d.k[:], b[1:]))
	return d, true
}

// cnAnalyzer estimates the spectral envelope of the user's background noise from the frames
// the VAD calls silent. Its zero value is ready; it allocates nothing.
type cnAnalyzer struct {
	r [cnOrder + 1]float64 // autocorrelation, lags 0-cnOrder, averaged over silent frames
	n int                  // frames in r, up to cnAvgFrames
	x [cnMaxFrame]float64  // the windowed frame
}

// add takes one silent frame: its Hann-windowed autocorrelation, normalised to the frame's mean
// square, joins the average (the mean of the first cnAvgFrames frames, then each new frame
// weighs 1/cnAvgFrames).
func (a *cnAnalyzer) add(pcm []int16) {
	n := min(len(pcm), cnMaxFrame)
	if n <= cnOrder {
		return
	}
	// w[i] = sin²(π(i+½)/n), with sin and cos stepped by a rotation.
	step := math.Pi / float64(n)
	cs, sn := math.Cos(step), math.Sin(step)
	c, s := math.Cos(step/2), math.Sin(step/2)
	var wsum float64
	for i, v := range pcm[:n] {
		w := s * s
		wsum += w * w
		a.x[i] = w * float64(v)
		c, s = c*cs-s*sn, s*cs+c*sn
	}
	if a.n < cnAvgFrames {
		a.n++
	}
	weight := 1 / float64(a.n)
	x := a.x[:n]
	for lag := range a.r {
		var acc float64
		for i := lag; i < n; i++ {
			acc += x[i] * x[i-lag]
		}
		a.r[lag] += (acc/wsum - a.r[lag]) * weight
	}
}

// describe returns the SID for noise level level with the envelope seen so far: level only
// until a frame that is not digital silence has been added.
func (a *cnAnalyzer) describe(level uint8) cnSID {
	d := cnSID{level: level}
	if !(a.r[0] > 0) {
		return d
	}
	var k [cnOrder]float64
	levinson(&a.r, &k)
	d.order = cnOrder
	for i, v := range k {
		d.k[i] = cnQuantize(v)
	}
	return d
}

// cnNoiseFloor is the white-noise correction levinson adds to r(0): a floor 40 dB under the
// noise, which keeps the recursion well conditioned for a background that is nearly a tone.
const cnNoiseFloor = 1e-4

// levinson runs the Levinson-Durbin recursion on autocorrelation r and writes the reflection
// coefficients of the predictor 1 + a1·z^-1 + ... to k. A stage that would not be stable (|k| ≥ 1,
// from rounding on a nearly singular r) ends the recursion; the coefficients after it stay 0.
func levinson(r *[cnOrder + 1]float64, k *[cnOrder]float64) {
	var a, prev [cnOrder + 1]float64
	*k = [cnOrder]float64{}
	e := r[0] * (1 + cnNoiseFloor)
	for i := 1; i <= cnOrder; i++ {
		acc := r[i]
		for j := 1; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		ki := -acc / e
		if !(math.Abs(ki) < 1) {
			return
		}
		prev = a
		for j := 1; j < i; j++ {
			a[j] = prev[j] + ki*prev[i-j]
		}
		a[i] = ki
		k[i-1] = ki
		e *= 1 - ki*ki
	}
}

// noiseGen makes comfort noise. Its zero value is ready; it allocates nothing.
type noiseGen struct {
	state uint32 // xorshift32 state, never 0 once seeded

	// The lattice synthesis filter of play: k its reflection coefficients, moving towards the
	// last descriptor's by cnSmooth a frame (primed once set), b its backward prediction
	// errors b_0..b_{M-1} at the previous sample.
	k      [cnMaxOrder]float64
	b      [cnMaxOrder]float64
	primed bool
	rms    float64 // the level the state b was made for
}

// uniform returns the next pseudo-random number, uniform on [-1, 1].
func (g *noiseGen) uniform() float64 {
	if g.state == 0 {
		g.state = 0x9e3779b9
	}
	x := g.state
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	g.state = x
	return float64(x)/float64(math.MaxUint32)*2 - 1
}

// cnRMS is the RMS of noise level level (-dBov): a full-scale square wave is 0 dBov.
func cnRMS(level uint8) float64 { return 32767 * math.Pow(10, -float64(level)/20) }

// fill writes white noise of level level (-dBov) into out.
func (g *noiseGen) fill(out []int16, level uint8) {
	// A uniform distribution on [-a, a] has an RMS of a/√3.
	a := cnRMS(level) * math.Sqrt(3)
	for i := range out {
		out[i] = int16(math.Round(g.uniform() * a))
	}
}

// play writes the comfort noise of descriptor d into out: white noise for a level-only SID,
// otherwise white noise through the all-pole lattice filter of d's reflection coefficients,
// scaled so that the output has d's level. The filter is stable for any coefficient bytes
// (|k| ≤ 127/128, and moving between two descriptors mixes them, which keeps |k| there).
func (g *noiseGen) play(out []int16, d *cnSID) {
	if d.order == 0 {
		g.fill(out, d.level)
		return
	}
	// White noise of variance σ² through 1/A(z) has the variance σ²/∏(1-k_i²).
	gain := 1.0
	for i := range g.k {
		var target float64
		if i < int(d.order) {
			target = cnDequantize(d.k[i])
		}
		if g.primed {
			g.k[i] += (target - g.k[i]) * cnSmooth
		} else {
			g.k[i] = target
		}
		gain *= 1 - g.k[i]*g.k[i]
	}
	g.primed = true
	rms := cnRMS(d.level)
	k, b := &g.k, &g.b
	if g.rms > 0 && rms != g.rms {
		// The filter is linear: a new level scales what is still ringing in it too.
		for i := range b {
			b[i] *= rms / g.rms
		}
	}
	g.rms = rms
	a := rms * math.Sqrt(3*gain)
	var sum float64
	for i := range out {
		// f_M = e; f_{m-1} = f_m - k_m·b_{m-1}(n-1); b_m(n) = b_{m-1}(n-1) + k_m·f_{m-1}(n), with
		// k[m] = k_{m+1}; b[m] holds b_m(n-1) until the stage under it writes b_m(n) there.
		f := g.uniform()*a - k[cnMaxOrder-1]*b[cnMaxOrder-1]
		for m := cnMaxOrder - 2; m >= 0; m-- {
			f -= k[m] * b[m]
			b[m+1] = b[m] + k[m]*f
		}
		b[0] = f
		sum += f * f
		out[i] = int16(min(max(math.Round(f), -32768), 32767))
	}
	// Moving between two very resonant filters can pump energy into the lattice for a few
	// frames: a frame louder than cnMaxOver times the level's power is turned down to that,
	// with the state. Steady noise stays well under it.
	if limit := cnMaxOver * rms * rms * float64(len(out)); sum > limit {
		s := math.Sqrt(limit / sum)
		for i, v := range out {
			out[i] = int16(math.Round(float64(v) * s))
		}
		for i := range b {
			b[i] *= s
		}
	}
	// A guard that the filter should never trip: a state gone non-finite starts again from rest.
	for _, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			g.b = [cnMaxOrder]float64{}
			break
		}
	}
}
