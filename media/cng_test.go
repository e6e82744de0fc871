package media

import (
	"bytes"
	"context"
	"encoding/hex"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"trayphone/internal/testenv"
)

// TestCNPayload checks the RFC 3389 §3 payload: the level byte in -dBov with its top bit zero,
// then one byte per reflection coefficient, the model order being the length less one.
func TestCNPayload(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ms    float64
		level uint8
	}{
		{32767 * 32767, 0},        // full-scale square wave: 0 dBov
		{32767 * 32767 / 100, 20}, // -20 dBov
		{327.67 * 327.67, 40},
		{0, 127},
		{1e-9, 127},
	} {
		if got := cnLevel(tt.ms); got != tt.level {
			t.Errorf("cnLevel(%g) = %d, want %d", tt.ms, got, tt.level)
		}
	}
	spectral := cnSID{level: 60, order: 3, k: [cnMaxOrder]uint8{0x40, 0x7f, 0xc0}}
	for _, tt := range []struct {
		d    cnSID
		want []byte
	}{
		{cnSID{level: 60}, []byte{0xaa, 0x3c}},
		{spectral, []byte{0xaa, 0x3c, 0x40, 0x7f, 0xc0}},
		{cnSID{level: 0xff, order: 1, k: [cnMaxOrder]uint8{1}}, []byte{0xaa, 0x7f, 0x01}}, // top bit never sent
	} {
		if got := appendCN([]byte{0xaa}, &tt.d); !bytes.Equal(got, tt.want) {
			t.Errorf("appendCN(%+v) = % x, want % x", tt.d, got, tt.want)
		}
	}
	long := []byte{50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14} // order 14: 13 and 14 dropped
	for _, tt := range []struct {
		b    []byte
		want cnSID
		ok   bool
	}{
		{[]byte{60}, cnSID{level: 60}, true},
		{[]byte{60, 0x40, 0x7f, 0xc0}, spectral, true},
		{long, cnSID{level: 50, order: 12, k: [cnMaxOrder]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, true},
		{[]byte{0x80}, cnSID{}, false},
		{[]byte{0xbc, 0x7f}, cnSID{}, false},
		{nil, cnSID{}, false},
	} {
		if d, ok := parseCN(tt.b); d != tt.want || ok != tt.ok {
			t.Errorf("parseCN(% x) = %+v %v, want %+v %v", tt.b, d, ok, tt.want, tt.ok)
		}
	}
}

// TestCNQuantize checks the §3.2 coefficient byte: every byte 0-254 survives reading and
// writing, 255 reads as 254, and a coefficient comes back within half a step (1/256).
func TestCNQuantize(t *testing.T) {
	t.Parallel()
	for q := range 256 {
		k := cnDequantize(uint8(q))
		want := uint8(min(q, 254))
		if got := cnQuantize(k); got != want {
			t.Errorf("cnQuantize(cnDequantize(%d) = %g) = %d, want %d", q, k, got, want)
		}
		if math.Abs(k) >= 1 {
			t.Errorf("cnDequantize(%d) = %g, want |k| < 1", q, k)
		}
	}
	for _, tt := range []struct {
		k float64
		q uint8
	}{
		{0, 127}, {0.5, 191}, {-0.5, 63}, {127.0 / 128, 254}, {-127.0 / 128, 0},
		{1, 254}, {-1, 0}, {3, 254}, {-3, 0}, {math.NaN(), 127},
		{0.8, 229}, // 127 + 102.4
	} {
		if got := cnQuantize(tt.k); got != tt.q {
			t.Errorf("cnQuantize(%g) = %d, want %d", tt.k, got, tt.q)
		}
	}
	for k := -0.99; k <= 0.99; k += 0.001 {
		if d := math.Abs(cnDequantize(cnQuantize(k)) - k); d > 1.0/256+1e-12 {
			t.Fatalf("k %g comes back %g off, want at most 1/256", k, d)
		}
	}
}

// TestCNLevinson checks the recursion against autocorrelations with known reflection
// coefficients: AR(1) r(l) = ρ^l has k = (-ρ, 0, ...); the AR(2) process y = x + 1.2·y(-1) -
// 0.5·y(-2) has k_1 = -a1/(1+a2) = -0.8, k_2 = a2 = 0.5, the rest 0.
func TestCNLevinson(t *testing.T) {
	t.Parallel()
	var r [cnOrder + 1]float64
	var k [cnOrder]float64
	const rho = 0.7
	for l := range r {
		r[l] = math.Pow(rho, float64(l))
	}
	levinson(&r, &k)
	want := [cnOrder]float64{-rho}
	for i := range k {
		if math.Abs(k[i]-want[i]) > 1e-3 {
			t.Errorf("AR(1): k = %.4f, want %.4f", k, want)
			break
		}
	}
	// AR(2) autocorrelation from the Yule-Walker equations: r1 = -a1/(1+a2)·r0, then
	// r(l) = -a1·r(l-1) - a2·r(l-2).
	a1, a2 := -1.2, 0.5
	r[0], r[1] = 1, -a1/(1+a2)
	for l := 2; l < len(r); l++ {
		r[l] = -a1*r[l-1] - a2*r[l-2]
	}
	levinson(&r, &k)
	want = [cnOrder]float64{-0.8, 0.5}
	for i := range k {
		if math.Abs(k[i]-want[i]) > 1e-3 {
			t.Errorf("AR(2): k = %.4f, want %.4f", k, want)
			break
		}
	}
	// Digital silence and a pure tone do not break it.
	clear(r[:])
	levinson(&r, &k)
	for l := range r {
		r[l] = math.Cos(0.3 * float64(l))
	}
	levinson(&r, &k)
	for _, v := range k {
		if !(math.Abs(v) < 1) {
			t.Errorf("tone: k = %v, want all |k| < 1", k)
			break
		}
	}
}

// cnProbes are the frequencies, as fractions of the sampling rate, where the spectral tests
// measure: 250, 500, 1000, 2000, 3000 and 3750 Hz at 8 kHz. cnRef is the one levels are relative to.
var cnProbes = []float64{1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 3.0 / 8, 15.0 / 32}

const cnRef = 2

// cnSpectrum measures the power of x at each of cnProbes, in dB: Goertzel on Hann-windowed
// blocks of 256 samples, half overlapping, averaged (Welch).
func cnSpectrum(x []int16) []float64 {
	const n = 256
	out := make([]float64, len(cnProbes))
	blocks := 0
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n)
	}
	for at := 0; at+n <= len(x); at += n / 2 {
		blocks++
		for p, f := range cnProbes {
			c := 2 * math.Cos(2*math.Pi*f)
			var s1, s2 float64
			for i := range n {
				s1, s2 = w[i]*float64(x[at+i])+c*s1-s2, s1
			}
			out[p] += s1*s1 + s2*s2 - c*s1*s2
		}
	}
	for p := range out {
		out[p] = 10 * math.Log10(out[p]/float64(blocks))
	}
	return out
}

// cnRelative returns levels relative to the one at cnRef.
func cnRelative(db []float64) []float64 {
	out := make([]float64, len(db))
	for i, v := range db {
		out[i] = v - db[cnRef]
	}
	return out
}

// cnResonator is the known signal: white noise through the 2-pole filter 1/(1 - 2ρcosθ·z^-1 +
// ρ²·z^-2), ρ = 0.9, θ = 2π/20 (400 Hz at 8 kHz), scaled to about level dBov.
type cnResonator struct {
	g      noiseGen
	y1, y2 float64
	gain   float64
}

const cnResRho, cnResTheta = 0.9, 2 * math.Pi / 20

func newCNResonator(level float64, seed uint32) *cnResonator {
	// Unit-variance input: the output variance of the 2-pole filter with a2 = ρ².
	a1, a2 := -2*cnResRho*math.Cos(cnResTheta), cnResRho*cnResRho
	v := (1 + a2) / ((1 - a2) * ((1+a2)*(1+a2) - a1*a1))
	return &cnResonator{g: noiseGen{state: seed}, gain: 32767 * math.Pow(10, level/20) / math.Sqrt(v)}
}

func (r *cnResonator) fill(out []int16) {
	a1, a2 := -2*cnResRho*math.Cos(cnResTheta), cnResRho*cnResRho
	for i := range out {
		x := r.g.uniform() * math.Sqrt(3) // unit variance
		y := x - a1*r.y1 - a2*r.y2
		r.y2, r.y1 = r.y1, y
		out[i] = int16(min(max(math.Round(y*r.gain), -32768), 32767))
	}
}

// cnResonatorDB is the filter's power response at each of cnProbes, in dB.
func cnResonatorDB() []float64 {
	a1, a2 := -2*cnResRho*math.Cos(cnResTheta), cnResRho*cnResRho
	out := make([]float64, len(cnProbes))
	for i, f := range cnProbes {
		w := 2 * math.Pi * f
		re := 1 + a1*math.Cos(w) + a2*math.Cos(2*w)
		im := -a1*math.Sin(w) - a2*math.Sin(2*w)
		out[i] = -10 * math.Log10(re*re+im*im)
	}
	return out
}

// TestCNSpectrumKnownFilter is the known-signal test: 1 s of noise through cnResonator (33 dB
// more power at 250 Hz than at 3750 Hz) goes into the analyzer as silent frames; the SID it makes goes
// through appendCN and parseCN; 10 s of the noise played for it must have the filter's spectrum
// within 1.5 dB at each probe (relative to 1 kHz) and the SID's level within 1 dB. The same
// SID with its coefficients dropped (what a level-only peer plays) misses by more than 10 dB.
func TestCNSpectrumKnownFilter(t *testing.T) {
	t.Parallel()
	for _, frame := range []int{160, 320} { // G.711 at 8 kHz, G.722 at 16 kHz
		in := newCNResonator(-45, 7)
		var a cnAnalyzer
		pcm := make([]int16, frame)
		var ms float64
		const inFrames = 50
		for range inFrames {
			in.fill(pcm)
			ms += meanSquare(pcm) / inFrames
			a.add(pcm)
		}
		sid := a.describe(cnLevel(ms))
		wire := appendCN(nil, &sid)
		got, ok := parseCN(wire)
		if !ok || len(wire) != 1+cnOrder || got != sid {
			t.Fatalf("frame %d: SID % x parses to %+v %v, want %+v", frame, wire, got, ok, sid)
		}
		var g noiseGen
		out := make([]int16, 500*frame)
		for f := 0; f < len(out); f += frame {
			g.play(out[f:f+frame], &got)
		}
		want := cnRelative(cnResonatorDB())
		played := cnRelative(cnSpectrum(out))
		var worst float64
		for i := range want {
			worst = max(worst, math.Abs(played[i]-want[i]))
		}
		t.Logf("frame %d: SID % x; relative to the fs/8 probe, filter %.1f dB, played %.1f dB: worst %.2f dB off",
			frame, wire, want, played, worst)
		if worst > 1.5 {
			t.Errorf("frame %d: played spectrum %.1f dB, want %.1f dB within 1.5 dB", frame, played, want)
		}
		if lv := -dBov(meanSquare(out)); math.Abs(lv-float64(sid.level)) > 1 {
			t.Errorf("frame %d: played at %.1f -dBov, want the SID's %d within 1", frame, lv, sid.level)
		}
		flat := cnSID{level: sid.level}
		for f := 0; f < len(out); f += frame {
			g.play(out[f:f+frame], &flat)
		}
		white := cnRelative(cnSpectrum(out))
		var miss float64
		for i := range want {
			miss = max(miss, math.Abs(white[i]-want[i]))
		}
		if miss < 10 {
			t.Errorf("frame %d: level-only noise is within %.1f dB of the filter: the test cannot tell", frame, miss)
		}
	}
}

// TestCNPlayLevel: a SID whose coefficients are all zero (bytes 127) plays flat noise at its
// level, like a level-only SID; level 127 plays (nearly) digital silence.
func TestCNPlayLevel(t *testing.T) {
	t.Parallel()
	flat := cnSID{level: 50, order: cnOrder}
	for i := range flat.k {
		flat.k[i] = 127
	}
	var g noiseGen
	out := make([]int16, 160*200)
	for f := 0; f < len(out); f += 160 {
		g.play(out[f:f+160], &flat)
	}
	if lv := -dBov(meanSquare(out)); math.Abs(lv-50) > 1 {
		t.Errorf("zero coefficients: %.1f -dBov, want 50", lv)
	}
	for i, v := range cnRelative(cnSpectrum(out)) {
		if math.Abs(v) > 1 {
			t.Errorf("zero coefficients: %.1f dB at probe %d relative to 1 kHz, want flat", v, i)
		}
	}
	flat.level = 127
	g.play(out[:160], &flat)
	if ms := meanSquare(out[:160]); ms > 1 {
		t.Errorf("level 127: mean square %g, want at most 1 LSB²", ms)
	}
}

// cnCheckPlay plays d for frames frames and fails if the filter state goes non-finite or the
// noise is louder than the SID's level allows: 12 dB over it (4 times its RMS), plus one LSB of
// RMS for the rounding to 16 bits (a sample moves by up to one LSB when it is rounded, then
// scaled by the limiter and rounded again), at most full scale. It returns the level of the last half.
func cnCheckPlay(t *testing.T, g *noiseGen, d *cnSID, frames int) float64 {
	t.Helper()
	out := make([]int16, 160)
	limit := math.Min(dBov(math.Pow(4*cnRMS(d.level)+1, 2)), 3)
	var ms float64
	for f := range frames {
		g.play(out, d)
		for _, v := range g.b {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("SID %+v frame %d: filter state %v", d, f, g.b)
			}
		}
		if l := dBov(meanSquare(out)); l > limit {
			t.Fatalf("SID %+v frame %d: %.1f dBov, want at most %.1f", d, f, l, limit)
		}
		if f >= frames/2 {
			ms += meanSquare(out) / float64(frames-frames/2)
		}
	}
	return dBov(ms)
}

// TestCNPlayStable plays the most resonant coefficient bytes there are, and jumps between
// them: the filter stays finite and the noise no louder than allowed.
func TestCNPlayStable(t *testing.T) {
	t.Parallel()
	mk := func(level uint8, fill func(i int) uint8) *cnSID {
		d := &cnSID{level: level, order: cnMaxOrder}
		for i := range d.k {
			d.k[i] = fill(i)
		}
		return d
	}
	sids := []*cnSID{
		mk(20, func(int) uint8 { return 0 }),
		mk(20, func(int) uint8 { return 255 }),
		mk(20, func(i int) uint8 { return uint8(255 * (i % 2)) }),
		mk(0, func(i int) uint8 { return uint8(254 * ((i + 1) % 2)) }),
		mk(60, func(i int) uint8 { return uint8(i * 23) }),
		{level: 40},
	}
	var g noiseGen
	for _, d := range sids {
		for _, e := range sids {
			cnCheckPlay(t, &g, d, 20)
			cnCheckPlay(t, &g, e, 20)
		}
	}
}

// FuzzParseCN: any payload either parses to a level 0-127 and at most cnMaxOrder coefficients
// that write back as its first bytes, or is refused (an empty payload, the top bit of the level
// set), without panicking.
func FuzzParseCN(f *testing.F) {
	f.Add([]byte{60})
	f.Add([]byte{127, 1, 2, 3})
	f.Add([]byte{0x80})
	f.Add([]byte{40, 0, 254, 255, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := parseCN(b)
		if ok != (len(b) > 0 && b[0] < 0x80) {
			t.Fatalf("parseCN(% x): ok %v", b, ok)
		}
		if !ok {
			return
		}
		if d.level > 127 || int(d.order) != min(len(b)-1, cnMaxOrder) {
			t.Fatalf("parseCN(% x) = %+v", b, d)
		}
		if got := appendCN(nil, &d); !bytes.Equal(got, b[:1+int(d.order)]) {
			t.Fatalf("parseCN(% x) writes back as % x", b, got)
		}
	})
}

// FuzzParseCNPlay plays any two payloads that parse, one after the other (the filter moving
// from one descriptor's coefficients to the other's): the filter state stays finite and the
// noise no louder than the level allows.
func FuzzParseCNPlay(f *testing.F) {
	f.Add([]byte{60}, []byte{60, 0x40, 0x7f, 0xc0})
	f.Add([]byte{20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{20, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	f.Add([]byte{0, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255}, []byte{127, 127})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		da, okA := parseCN(a)
		db, okB := parseCN(b)
		if !okA || !okB {
			return
		}
		var g noiseGen
		cnCheckPlay(t, &g, &da, 10)
		cnCheckPlay(t, &g, &db, 10)
	})
}

// cnNoiseStream reads cnResonator noise and discards what it is given, without allocating.
type cnNoiseStream struct{ r *cnResonator }

func (s cnNoiseStream) Read(p []int16) error  { s.r.fill(p); return nil }
func (s cnNoiseStream) Write(p []int16) error { return nil }
func (s cnNoiseStream) Close() error          { return nil }

// TestSessionCNSpectral runs the send path of a PCMU session whose user is silent in front of
// cnResonator noise: its SIDs carry cnOrder coefficients. Fed into another session's receive
// path, they play noise with the resonator's spectrum (within 2 dB at each probe).
func TestSessionCNSpectral(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	a := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: cnNoiseStream{newCNResonator(-55, 3)}, ComfortNoisePT: 13})
	const ticks = 60 // the VAD's hangover, then SIDs at 300 ms
	for tk := range int64(ticks) {
		a.snd.tick(tk, 0)
	}
	var sids [][]byte
	buf := make([]byte, 1500)
	for {
		peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if p.PayloadType == 13 {
			sids = append(sids, append([]byte(nil), p.Payload...))
			if len(p.Payload) != 1+cnOrder {
				t.Errorf("SID payload % x, want a level and %d coefficients", p.Payload, cnOrder)
			}
		}
	}
	if len(sids) < 2 {
		t.Fatalf("%d SIDs in %d silent ticks, want at least 2", len(sids), ticks)
	}

	stream := &sessToneStream{rate: 8000}
	conn2, peer2 := sessListen(t), sessListen(t)
	defer peer2.Close()
	b := sessNew(t, SessionConfig{Conn: conn2, Remote: sessAddr(peer2), Stream: stream, ComfortNoisePT: 13, NoVAD: true})
	from := sessAddr(peer2)
	now := time.Unix(1000, 0)
	b.handlePacket(sessRTP(0, 0, 0, 9, make([]byte, 160)), from, now)
	last := sids[len(sids)-1]
	b.handlePacket(sessRTP(13, 1, 160, 9, last), from, now)
	for range 300 {
		b.snd.play()
	}
	stream.mu.Lock()
	out := append([]int16(nil), stream.written[10*160:]...)
	stream.mu.Unlock()
	want := cnRelative(cnResonatorDB())
	played := cnRelative(cnSpectrum(out))
	var worst float64
	for i := range want {
		worst = max(worst, math.Abs(played[i]-want[i]))
	}
	t.Logf("SID % x: filter %.1f dB, played %.1f dB relative to 1 kHz: worst %.2f dB off", last, want, played, worst)
	if worst > 2 {
		t.Errorf("played spectrum %.1f dB, want %.1f dB within 2 dB", played, want)
	}
	if lv := dBov(meanSquare(out)); math.Abs(lv+55) > 2 {
		t.Errorf("played at %.1f dBov, want about -55", lv)
	}
}

// TestSessionCNSpectralAllocs: sending SIDs with coefficients, and receiving and playing them,
// allocate nothing per packet.
func TestSessionCNSpectralAllocs(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	t.Cleanup(func() { peer.Close() })
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: cnNoiseStream{newCNResonator(-50, 5)}, ComfortNoisePT: 13})
	var tk int64
	for ; tk < vadHangoverFrames+5; tk++ {
		s.snd.tick(tk, 0) // past the hangover: the ticks below are silent
	}
	if a := testing.AllocsPerRun(500, func() {
		s.snd.tick(tk, 0)
		tk++
	}); a != 0 {
		t.Errorf("silent tick (VAD, spectral analysis, SID with coefficients): got %v allocs, want 0", a)
	}
	if d := s.snd.cnEnc.describe(60); d.order != cnOrder {
		t.Fatalf("after %d silent frames the SID has %d coefficients, want %d", tk, d.order, cnOrder)
	}
	from := sessAddr(peer)
	now := time.Unix(1000, 0)
	s.handlePacket(sessRTP(0, 0, 0, 9, make([]byte, 160)), from, now)
	sid := sessRTP(13, 1, 160, 9, []byte{60, 100, 140, 127, 127, 120, 130, 127, 127, 127, 127})
	if a := testing.AllocsPerRun(500, func() {
		s.handlePacket(sid, from, now)
		s.snd.play()
	}); a != 0 {
		t.Errorf("SID with coefficients in, shaped comfort noise out: got %v allocs, want 0", a)
	}
}

// BenchmarkCNAnalyze is the send side's cost per silent G.711 frame: the spectral analysis, and
// the SID (Levinson-Durbin, quantization) that every cnSIDFrames-th of them sends.
func BenchmarkCNAnalyze(b *testing.B) {
	in := newCNResonator(-50, 1)
	pcm := make([]int16, 160)
	in.fill(pcm)
	var a cnAnalyzer
	buf := make([]byte, 0, 1+cnMaxOrder)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.add(pcm)
		if i%cnSIDFrames == 0 {
			d := a.describe(50)
			buf = appendCN(buf[:0], &d)
		}
	}
}

// BenchmarkCNPlay is the receive side's cost per G.711 frame of shaped comfort noise.
func BenchmarkCNPlay(b *testing.B) {
	d, _ := parseCN([]byte{45, 0x06, 0xe5, 0x81, 0x7b, 0x7c, 0x7d, 0x7d, 0x80, 0x81, 0x7c})
	var g noiseGen
	out := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		g.play(out, &d)
	}
}

// TestCNFFmpeg checks the coefficient conventions against a second implementation, FFmpeg's
// RFC 3389 comfortnoise codec (whose conventions WebRTC's share). One way, FFmpeg's SIDs for 4 s
// of cnResonator noise play here with the resonator's spectrum; the other, trayphone's SIDs for
// the same noise decode in ffmpeg with it: within 2 dB at each probe.
func TestCNFFmpeg(t *testing.T) {
	ffmpeg := testenv.RequireProgram(t, "ffmpeg")
	ffprobe := testenv.RequireProgram(t, "ffprobe")
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	want := cnRelative(cnResonatorDB())
	check := func(who string, x []int16) {
		t.Helper()
		got := cnRelative(cnSpectrum(x))
		var worst float64
		for i := range want {
			worst = max(worst, math.Abs(got[i]-want[i]))
		}
		t.Logf("%s: filter %.1f dB, played %.1f dB relative to 1 kHz: worst %.2f dB off; %.1f dBov",
			who, want, got, worst, dBov(meanSquare(x)))
		if worst > 2 {
			t.Errorf("%s: spectrum %.1f dB, want %.1f dB within 2 dB", who, got, want)
		}
	}

	// FFmpeg to trayphone: ffmpeg encodes one SID per 80 ms of the WAV; ffprobe dumps them.
	in := make([]int16, 4*8000)
	newCNResonator(-40, 11).fill(in)
	wav := filepath.Join(dir, "in.wav")
	w, err := NewWAVWriter(wav, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	nut := filepath.Join(dir, "cn.nut")
	if out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", wav,
		"-c:a", "comfortnoise", "-f", "nut", nut).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg encode: %v\n%s", err, out)
	}
	probe, err := exec.CommandContext(ctx, ffprobe, "-loglevel", "error", "-show_packets", "-show_data", nut).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var payloads [][]byte
	for _, line := range strings.Split(string(probe), "\n") {
		// 00000000: 277f 8b7a 7472 9370 9281 89              '..ztr.p...
		if !strings.HasPrefix(line, "00000000: ") {
			continue
		}
		hexPart, _, _ := strings.Cut(line[10:], "  ")
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			t.Fatalf("ffprobe data line %q: %v", line, err)
		}
		payloads = append(payloads, b)
	}
	if len(payloads) < 40 {
		t.Fatalf("ffmpeg made %d SIDs for 4 s, want 50", len(payloads))
	}
	var g noiseGen
	played := make([]int16, 0, len(payloads)*640)
	frame := make([]int16, 160)
	for _, p := range payloads {
		d, ok := parseCN(p)
		if !ok || d.order != cnOrder {
			t.Fatalf("FFmpeg's SID % x parses to %+v %v", p, d, ok)
		}
		for range 4 {
			g.play(frame, &d)
			played = append(played, frame...)
		}
	}
	t.Logf("FFmpeg's first SID: % x", payloads[0])
	check("FFmpeg's SIDs played by trayphone", played)

	// Trayphone to FFmpeg: one SID per 80 ms too. FFmpeg reads CN neither from RTP nor from a
	// container it cannot write itself, so trayphone's SIDs go into FFmpeg's own NUT file in the
	// place of FFmpeg's (same length, and NUT checksums no frame payload).
	var a cnAnalyzer
	file, err := os.ReadFile(nut)
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	var last []byte
	for i, p := range payloads {
		for f := i * 640; f < (i+1)*640 && f+160 <= len(in); f += 160 {
			a.add(in[f : f+160])
		}
		d := a.describe(cnLevel(meanSquare(in[i*640 : min((i+1)*640, len(in))])))
		last = appendCN(nil, &d)
		j := bytes.Index(file[at:], p)
		if j < 0 || len(last) != len(p) {
			t.Fatalf("SID %d: FFmpeg's % x not found in its file after %d, or ours % x differs in length", i, p, at, last)
		}
		copy(file[at+j:], last)
		at += j + len(p)
	}
	ours := filepath.Join(dir, "ours.nut")
	if err := os.WriteFile(ours, file, 0o600); err != nil {
		t.Fatal(err)
	}
	outWAV := filepath.Join(dir, "out.wav")
	if out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", ours, outWAV).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg decode: %v\n%s", err, out)
	}
	out, rate, channels, err := ReadWAV(outWAV)
	if err != nil || rate != 8000 || channels != 1 || len(out) < 3*8000 {
		t.Fatalf("ffmpeg's output: %d samples at %d Hz × %d, %v; want 4 s of mono at 8000", len(out), rate, channels, err)
	}
	t.Logf("trayphone's last SID: % x", last)
	check("trayphone's SIDs played by FFmpeg", out[8000/2:])
}
