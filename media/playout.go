package media

import (
	"math"
	"time"
)

// The playout stage sits between the jitter buffer and the speaker. It holds the decoded samples
// not yet played (a few milliseconds to two frames) and the last samples played, and it is where
// the playout delay changes and lost frames are made up, always on the decoded signal and never by
// dropping or repeating a raw frame:
//
//   - Accelerate (the delay shrinks): one pitch period of the signal is taken out, the period
//     before and the one after overlap-added across the cut, so a voice or a tone goes on with
//     its shape and phase intact (the idea of WebRTC NetEq's accelerate).
//   - Expand (the delay grows): one pitch period is put in again the same way (NetEq's
//     preemptive expand).
//   - Concealment (a frame is missing and the codec has none of its own): the last pitch period
//     repeats, full for the first frame of a loss when the signal is periodic, then fading by 20 %
//     per 10 ms (5 % when strongly periodic), and the first good frame after the loss is
//     overlap-added onto the made-up signal (ITU-T G.711 Appendix I; NetEq's expand fades voiced
//     sound more slowly). The period is found between samples and read back with a cubic, so a
//     tone's concealment keeps its frequency.
//
// The pitch period is where the normalised cross-correlation of the signal with itself is highest,
// between 2.5 ms (400 Hz) and 15 ms (67 Hz): a tone of any frequency repeats within it, and so does
// a voice.

const (
	pitchMin = 2500 * time.Microsecond
	pitchMax = 15 * time.Millisecond
	// playHistory is how much of the signal played is kept for the pitch search.
	playHistory = 40 * time.Millisecond
	// tsmMinCorr is how alike two pitch periods must be for accelerate or expand to act on a
	// signal that is not quiet; below it they wait for a better moment.
	tsmMinCorr = 0.9
	// quietLevel is the mean square (of int16 samples) under which a stretch of signal is quiet
	// enough to cut or stretch anywhere: about -55 dBov.
	quietLevel = 3.5e3
	// plcFullCorr is the correlation from which a concealed frame keeps its full level for a whole
	// frame (a steady voiced sound or a tone); below it the fade starts after 10 ms.
	plcFullCorr = 0.8
	// plcFadePer10ms is how much of the level a concealment loses each 10 ms after its start;
	// a strongly periodic signal (plcSteadyCorr: a held vowel, a tone) fades at plcSteadyFade, as
	// NetEq's expand fades voiced sound more slowly than the rest.
	plcFadePer10ms = 0.2
	plcSteadyCorr  = 0.95
	plcSteadyFade  = 0.05
	// plcSteadyFor is how long a strongly periodic signal fades slowly; after it every
	// concealment fades at plcFadePer10ms, so it is silent well before plcMaxLength.
	plcSteadyFor = 40 * time.Millisecond
	// plcMaxLength is how long a concealment can make up signal before it has faded out.
	plcMaxLength = 100 * time.Millisecond
	// silentLevel is the mean square under which the signal counts as digital silence (-85 dBov).
	silentLevel = 3
	// tsmMin is the shortest period accelerate and expand cut or insert. Shorter than a voice's
	// pitch: a tone's period is not a whole number of samples, and among its multiples up to a
	// frame the one closest to whole samples leaves the smallest phase step.
	tsmMin = 1 * time.Millisecond
)

// playout is the state of the playout stage. Only the send goroutine touches it.
type playout struct {
	rate, frame      int
	minT, maxT       int // pitch range of the concealment
	tsmMinT, tsmMaxT int // period range of accelerate and expand
	clockNum, clkDen int // timestamp units per sample: clockNum/clkDen
	unitRem          int // remainder of the conversion of samples to timestamp units

	hist []int16 // the last samples played, oldest first; len is fixed
	// fresh is how many of hist's last samples are continuous with what plays next: a skip
	// (hold, a stalled machine) breaks the signal, and a period found across the break would
	// splice two sounds that never followed each other.
	fresh int
	fifo  []int16 // decoded samples waiting to be played, oldest first
	// discard is how many samples of the next audio to drop: the rest of a skip.
	discard int

	x []float64 // scratch: history and fifo as one signal

	// Concealment in progress (plcT > 0): the pitch period (plcTf, in fractional samples), how
	// many samples have been made up, and how many keep their full level before the fade. plcSig
	// is the history followed by the made-up signal at full level: each new sample is the signal
	// one period earlier, read between samples where the period is not whole.
	plcT, plcN, plcHold int
	plcTf, plcFade      float64 // the period, and the level lost per sample after the hold
	plcSig              []float64
	plcGain             float64

	// Accelerate and expand cut or insert a whole number of samples where a tone's period is
	// not one: each step moves the signal's phase by a fraction of a sample. slip is that offset
	// summed over the steps since the last pause (in samples, positive: late), so the next step
	// can be chosen to take it back; played counts the samples played, lastTSM when the last step
	// was.
	slip            float64
	played, lastTSM int
	corr            []float64 // scratch: correlation per period

	// After a loss a decoder must find its way back, and some overshoot meanwhile (Opus's SILK
	// layer, after losing a steady sound, plays it 4-5 dB too loud for 100-300 ms). For a while
	// after a loss the decoded audio is held to the level before it: limitPeak is that level (the
	// peak of the 40 ms before the loss), limitLeft how many samples are still held, limitGain the
	// gain applied now (it glides, so the limiting itself makes no click).
	limitPeak float64
	limitLeft int
	limitGain float64

	accelerated, expanded  uint64 // operations done
	cutSamples, addSamples uint64
}

func (p *playout) init(rate, clockRate int) {
	frame := rate * FrameDuration / 1000
	samples := func(d time.Duration) int { return int(int64(d) * int64(rate) / int64(time.Second)) }
	g := gcd(clockRate, rate)
	*p = playout{
		rate:     rate,
		frame:    frame,
		minT:     samples(pitchMin),
		maxT:     samples(pitchMax),
		tsmMinT:  samples(tsmMin),
		tsmMaxT:  frame,
		clockNum: clockRate / g,
		clkDen:   rate / g,
		hist:     make([]int16, samples(playHistory)),
		fifo:     make([]int16, 0, 4*frame+2*maxRTPPayload),
		x:        make([]float64, samples(playHistory)+4*frame+2*maxRTPPayload),
		plcSig:   make([]float64, samples(playHistory)+samples(plcMaxLength)+frame),
		corr:     make([]float64, frame+3),
	}
}

// units converts a number of samples to timestamp units, carrying the remainder.
func (p *playout) units(n int) int32 {
	v := n*p.clockNum + p.unitRem
	p.unitRem = v % p.clkDen
	return int32(v / p.clkDen)
}

// push appends decoded audio to the fifo, minus what a skip still owes. A concealment in
// progress is ended by overlap-adding the new audio onto its continuation.
func (p *playout) push(pcm []int16) {
	if p.discard > 0 {
		n := min(p.discard, len(pcm))
		p.discard -= n
		pcm = pcm[n:]
	}
	room := cap(p.fifo) - len(p.fifo)
	pcm = pcm[:min(len(pcm), room)]
	start := len(p.fifo)
	p.fifo = append(p.fifo, pcm...)
	p.limit(p.fifo[start:])
	if p.plcT > 0 {
		p.mergeConcealment(p.fifo[start:])
	}
}

const (
	// limitAfterLoss is how long decoded audio is held to its level before a loss.
	limitAfterLoss = 300 * time.Millisecond
	// limitFloor is the peak (-30 dBFS) under which the audio before a loss is a pause, not
	// sound that the decoder could overshoot on coming back.
	limitFloor = 1000
)

// lost notes that a frame is being made up: for limitAfterLoss from now, decoded audio is held to
// the peak level of the 40 ms played (or waiting) before the loss.
func (p *playout) lost() {
	if p.limitLeft == 0 {
		h := len(p.hist)
		k := min(len(p.fifo), h)
		n := p.rate / 25 // 40 ms
		var peak int16
		for _, v := range p.hist[h-(n-min(n, k)):] {
			peak = max(peak, v, -v)
		}
		for _, v := range p.fifo[len(p.fifo)-min(n, k):] {
			peak = max(peak, v, -v)
		}
		p.limitPeak, p.limitGain = float64(peak), 1
		if peak < limitFloor {
			// Quiet before the loss (a pause, DTX): the next words may rightly be louder.
			p.limitPeak = 0
		}
	}
	p.limitLeft = p.rate * int(limitAfterLoss/time.Millisecond) / 1000
}

// limit holds x (decoded audio, in place) to limitPeak while a loss is recent. The gain changes
// once a millisecond, gliding within it: it looks one millisecond ahead, so it has fallen to what a
// millisecond needs by the time that millisecond starts, and it rises by 0.5 dB a millisecond, back
// at 1 before the time is up. Only the first millisecond of x cannot be seen coming (it arrives
// with x): if it needs less gain than the glide left, the gain drops at its start.
func (p *playout) limit(x []int16) {
	if p.limitLeft == 0 || p.limitPeak == 0 {
		p.limitLeft = max(0, p.limitLeft-len(x))
		return
	}
	const rise = 1.0593 // 0.5 dB
	ms := max(p.rate/1000, 1)
	ceil := p.limitPeak * 1.06 // 0.5 dB of headroom over the level before the loss
	// want is the gain the millisecond at i may have at most.
	want := func(i int) float64 {
		var peak float64
		for _, v := range x[i:min(i+ms, len(x))] {
			peak = max(peak, math.Abs(float64(v)))
		}
		w := 1.0
		if peak > ceil {
			w = ceil / peak
		}
		// Enough rise left to be at 1 when the time is up: 0.5 dB a millisecond. Past the
		// time, 1: the limiter never adds gain.
		if left := p.limitLeft - i; left < 60*ms {
			w = max(w, math.Pow(rise, -float64(max(left, 0)/ms)))
		}
		return min(w, 1)
	}
	now := want(0)
	for i := 0; i < len(x); i += ms {
		blk := x[i:min(i+ms, len(x))]
		next, ahead := min(now, p.limitGain*rise), 1.0
		if i+ms < len(x) {
			ahead = want(i + ms)
			next = min(next, ahead)
		}
		g := min(p.limitGain, now)
		step := (next - g) / float64(len(blk))
		for j, v := range blk {
			g += step
			blk[j] = sat16(float64(v) * min(g, now))
		}
		p.limitGain, now = next, ahead
	}
	p.limitLeft = max(0, p.limitLeft-len(x))
	if p.limitLeft == 0 {
		p.limitGain = 1
	}
}

// pushSilence appends n samples of silence and ends any concealment.
func (p *playout) pushSilence(n int) {
	p.plcT = 0
	n = min(n, cap(p.fifo)-len(p.fifo))
	start := len(p.fifo)
	p.fifo = p.fifo[:start+n]
	clear(p.fifo[start:])
}

// pushMadeUp appends audio that was not decoded from the far end's packet (comfort noise, the
// codec's own concealment): it continues the signal, so a concealment of ours is over. The codec's
// concealment is held to the level before the loss like decoded audio.
func (p *playout) pushMadeUp(pcm []int16) {
	p.plcT = 0
	pcm = pcm[:min(len(pcm), cap(p.fifo)-len(p.fifo))]
	start := len(p.fifo)
	p.fifo = append(p.fifo, pcm...)
	p.limit(p.fifo[start:])
}

// pull writes the next len(out) samples to out and keeps them as history. The fifo must hold them.
func (p *playout) pull(out []int16) {
	n := copy(out, p.fifo)
	clear(out[n:])
	k := len(p.fifo) - n
	copy(p.fifo, p.fifo[n:])
	p.fifo = p.fifo[:k]
	p.played += len(out)
	p.fresh = min(p.fresh+len(out), len(p.hist))
	h := len(p.hist)
	if n >= h {
		copy(p.hist, out[len(out)-h:])
		return
	}
	copy(p.hist, p.hist[len(out):])
	copy(p.hist[h-len(out):], out)
}

// skip drops n samples of the signal: what the fifo holds first, the rest from the audio to come.
// It returns how many whole frames the jitter buffer must skip for the rest.
func (p *playout) skip(n int) int {
	k := min(n, len(p.fifo))
	copy(p.fifo, p.fifo[k:])
	p.fifo = p.fifo[:len(p.fifo)-k]
	n -= k
	frames := n / p.frame
	p.discard += n - frames*p.frame
	p.plcT = 0
	if n > 0 || k > 0 {
		p.fresh = 0
	}
	return frames
}

// signal lays the history and the fifo out as one signal in p.x and returns the position of the
// fifo's first sample in it.
func (p *playout) signal() ([]float64, int) {
	x := p.x[:len(p.hist)+len(p.fifo)]
	for i, v := range p.hist {
		x[i] = float64(v)
	}
	h := len(p.hist)
	for i, v := range p.fifo {
		x[h+i] = float64(v)
	}
	return x, h
}

// ncc returns the normalised cross-correlation of a and b (equal lengths) and their mean energy.
func ncc(a, b []float64) (corr, energy float64) {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	energy = (aa + bb) / float64(2*len(a))
	if aa == 0 || bb == 0 {
		return 0, energy
	}
	return ab / math.Sqrt(aa*bb), energy
}

// nearBest is how close to the best correlation a longer period may be and still be preferred:
// about a 0.015 rad phase step on a tone.
const nearBest = 1e-4

// bestPeriod returns the period T in [minT, maxT] for which the window of n samples at pos is
// most alike the window T earlier (forward false) or T later (forward true), with the
// correlation and the windows' energy. Among periods within a hair of the best, the longest wins:
// it changes the delay most at once.
func (p *playout) bestPeriod(x []float64, pos, n, minT, maxT int, forward bool) (bestT int, best, energy float64) {
	type cand struct {
		t    int
		c, e float64
	}
	var top cand
	top.c = math.Inf(-1)
	for t := minT; t <= maxT; t++ {
		var a, b []float64
		w := n
		if w <= 0 {
			w = t
		}
		if forward {
			if pos+t+w > len(x) {
				break
			}
			a, b = x[pos:pos+w], x[pos+t:pos+t+w]
		} else {
			if pos-t < 0 || pos-t+w > len(x) {
				break
			}
			a, b = x[pos-t:pos-t+w], x[pos:pos+w]
		}
		c, e := ncc(a, b)
		if c > top.c+nearBest || (c >= top.c-nearBest && t > top.t) {
			if c > top.c {
				top.c = c
			}
			top.t, top.e = t, e
		}
	}
	return top.t, top.c, top.e
}

// crossfade writes into dst the overlap-add of from (fading out) and to (fading in), with a raised
// cosine.
func crossfade(dst []int16, from, to []float64) {
	n := len(dst)
	for i := range dst {
		w := 0.5 - 0.5*math.Cos(math.Pi*(float64(i)+0.5)/float64(n))
		dst[i] = sat16((1-w)*from[i] + w*to[i])
	}
}

func sat16(v float64) int16 {
	return int16(max(-32768, min(32767, math.Round(v))))
}

// tsmPeriod chooses the period for accelerate (forward: the window at pos against the one t
// later) or expand (the window t earlier against the one at pos), t in [tsmMinT, maxT]. Among the
// periods that correlate almost as well as the best, it takes the one whose fractional error best
// cancels the phase slip of the steps before, then the longest. It returns the period, its
// correlation, the windows' energy and the slip the step adds.
func (p *playout) tsmPeriod(x []float64, pos, maxT int, forward bool) (t int, c, energy, slip float64) {
	w := p.frame / 2
	if forward {
		w = min(w, len(x)-pos-maxT-1)
	} else {
		w = min(w, len(x)-pos)
	}
	lo := max(p.tsmMinT-1, 1)
	hi := maxT + 1
	if w < p.tsmMinT || hi >= len(p.corr) {
		return 0, 0, 0, 0
	}
	best := math.Inf(-1)
	for t := lo; t <= hi; t++ {
		var a, b []float64
		if forward {
			a, b = x[pos:pos+w], x[pos+t:pos+t+w]
		} else {
			if pos-t < 0 {
				hi = t - 1
				break
			}
			a, b = x[pos-t:pos-t+w], x[pos:pos+w]
		}
		cc, e := ncc(a, b)
		p.corr[t] = cc
		energy = max(energy, e)
		if t >= p.tsmMinT && t <= maxT && cc > best {
			best = cc
		}
	}
	if p.played-p.lastTSM > p.rate {
		p.slip = 0 // a second since the last step: a new sound
	}
	bestCost, bestT := math.Inf(1), 0
	for t := lo + 1; t < hi; t++ {
		cm, c0, cp := p.corr[t-1], p.corr[t], p.corr[t+1]
		if c0 < cm || c0 < cp || c0 < best-0.02 {
			continue
		}
		// The true period (a multiple of it) is at t+frac, the vertex of the parabola through
		// the three correlations. Cutting t samples instead of t+frac leaves the rest of the
		// signal frac samples late; inserting t instead of t+frac leaves it frac samples early.
		var frac float64
		if d := cm - 2*c0 + cp; d < 0 {
			frac = 0.5 * (cm - cp) / d
		}
		step := frac
		if !forward {
			step = -frac
		}
		cost := math.Abs(p.slip+step) - 1e-3*float64(t)/float64(maxT)
		if cost < bestCost {
			bestCost, bestT, c, slip = cost, t, c0, step
		}
	}
	return bestT, c, energy, slip
}

// accelerate takes one pitch period out of the fifo, keeping at least keep samples in it, if the
// signal there is periodic or quiet (or force is set). It returns how many samples went.
func (p *playout) accelerate(keep int, force bool) int {
	avail := len(p.fifo) - keep
	maxT := min(p.tsmMaxT, avail, len(p.fifo)/2)
	if maxT < p.tsmMinT {
		return 0
	}
	x, pos := p.signal()
	t, c, e, slip := p.tsmPeriod(x, pos, maxT, true)
	if t == 0 || (c < tsmMinCorr && e > quietLevel && !force) {
		return 0
	}
	p.stepped(c, slip)
	// fifo[0:t] fades into fifo[t:2t]; what follows fifo[2t:] moves up by t.
	crossfade(p.fifo[:t], x[pos:pos+t], x[pos+t:pos+2*t])
	copy(p.fifo[t:], p.fifo[2*t:])
	p.fifo = p.fifo[:len(p.fifo)-t]
	p.accelerated++
	p.cutSamples += uint64(t)
	return t
}

// expand puts one pitch period into the signal at the fifo's start, if the signal is periodic or
// quiet there (or force is set). It returns how many samples were added.
func (p *playout) expand(force bool) int {
	maxT := min(p.tsmMaxT, len(p.fifo), p.fresh, cap(p.fifo)-len(p.fifo))
	if maxT < p.tsmMinT {
		return 0
	}
	x, pos := p.signal()
	t, c, e, slip := p.tsmPeriod(x, pos, maxT, false)
	if t == 0 || (c < tsmMinCorr && e > quietLevel && !force) {
		return 0
	}
	p.stepped(c, slip)
	// The output goes on from the fifo's start fading into the period before it, then repeats
	// that period's rest and the fifo again: t samples longer.
	n := len(p.fifo)
	p.fifo = p.fifo[:n+t]
	copy(p.fifo[t:], p.fifo[:n])
	crossfade(p.fifo[:t], x[pos:pos+t], x[pos-t:pos])
	p.expanded++
	p.addSamples += uint64(t)
	return t
}

// stepped records a step of accelerate or expand: the phase slip it added, if the signal was
// periodic enough for the slip to mean anything.
func (p *playout) stepped(c, slip float64) {
	p.lastTSM = p.played
	if c < tsmMinCorr {
		p.slip = 0
		return
	}
	p.slip += slip
}

// conceal appends n samples made up for a lost frame: the last pitch period repeated, fading.
func (p *playout) conceal(n int) {
	if p.plcT == 0 {
		// The signal so far: the end of the history and the fifo, one history long.
		h := len(p.hist)
		x := p.plcSig[:h]
		k := min(len(p.fifo), h)
		for i, v := range p.hist[k:] {
			x[i] = float64(v)
		}
		for i, v := range p.fifo[len(p.fifo)-k:] {
			x[h-k+i] = float64(v)
		}
		// Compare the last maxT samples with the same length one period earlier; the longest
		// period that fits best repeats least often, so its error adds up least.
		w := p.maxT
		t, c, e := p.bestPeriod(x, h-w, w, p.minT, min(p.maxT, h-w), false)
		if e < silentLevel || p.fresh+k < w+p.minT {
			// Nothing to go on (the call's start, digital silence, a skip just before):
			// silence, and nothing to merge the next frame with.
			p.pushSilence(n)
			return
		}
		tf := float64(t)
		if t == 0 {
			t, tf, c = p.minT, float64(p.minT), 0
		} else if t > p.minT && t < min(p.maxT, h-w) {
			// Between samples: the vertex of a parabola through the correlations around t.
			cm, _ := ncc(x[h-w-t+1:h-t+1], x[h-w:h])
			cp, _ := ncc(x[h-w-t-1:h-t-1], x[h-w:h])
			if d := cm - 2*c + cp; d < 0 {
				tf += 0.5 * (cm - cp) / d
			}
		}
		p.plcT, p.plcTf, p.plcN, p.plcGain = t, tf, 0, 1
		p.plcHold = p.rate / 100 // 10 ms
		p.plcFade = plcFadePer10ms / float64(p.rate/100)
		if c >= plcFullCorr {
			p.plcHold = p.frame
		}
		if c >= plcSteadyCorr {
			p.plcFade = plcSteadyFade / float64(p.rate/100)
		}
	}
	n = min(n, cap(p.fifo)-len(p.fifo))
	start := len(p.fifo)
	p.fifo = p.fifo[:start+n]
	p.synthesize(p.fifo[start:])
}

// synthesize fills dst with the continuation of the concealment.
func (p *playout) synthesize(dst []int16) {
	fast := plcFadePer10ms / float64(p.rate/100)
	steadyFor := p.rate * int(plcSteadyFor/time.Millisecond) / 1000
	h := len(p.hist)
	for i := range dst {
		switch {
		case p.plcN >= steadyFor:
			p.plcGain = max(0, p.plcGain-fast)
		case p.plcN >= p.plcHold:
			p.plcGain = max(0, p.plcGain-p.plcFade)
		}
		k := h + p.plcN
		if k >= len(p.plcSig) || p.plcGain == 0 {
			dst[i] = 0
			p.plcN++
			continue
		}
		v := cubicAt(p.plcSig[:k], float64(k)-p.plcTf)
		p.plcSig[k] = v
		dst[i] = sat16(v * p.plcGain)
		p.plcN++
	}
}

// cubicAt returns x read at position q (q+2 < len(x)) with a Catmull-Rom cubic through the four
// samples around it.
func cubicAt(x []float64, q float64) float64 {
	i := int(math.Floor(q))
	f := q - float64(i)
	if i < 1 || i+2 >= len(x) {
		i = max(0, min(i, len(x)-1))
		return x[i]
	}
	x0, x1, x2, x3 := x[i-1], x[i], x[i+1], x[i+2]
	return x1 + 0.5*f*(x2-x0+f*(2*x0-5*x1+4*x2-x3+f*(3*(x1-x2)+x3-x0)))
}

// mergeConcealment ends a concealment: the first samples of the audio that came after the loss
// (real, in place in the fifo) are overlap-added onto the concealment's continuation.
func (p *playout) mergeConcealment(real []int16) {
	n := min(len(real), max(p.plcT, p.rate/250)) // at least 4 ms
	var synth [960]int16
	var a, b [960]float64
	n = min(n, len(synth))
	p.synthesize(synth[:n])
	for i := range n {
		a[i], b[i] = float64(synth[i]), float64(real[i])
	}
	crossfade(real[:n], a[:n], b[:n])
	p.plcT = 0
}
