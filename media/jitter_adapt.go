package media

import "time"

// How the jitter buffer's playout delay adapts.
//
// Every packet has a relative transit time: its arrival time minus its RTP timestamp, both in
// timestamp units. Over a sliding window the spread of transit times (latest minus earliest) is
// the jitter the buffer must absorb. The playout timeline has an offset P: the frame with
// timestamp ts is taken from the buffer (its packet must be here by then) at local time ts+P. The
// playout stage says when it takes each frame (takenAt), so P is measured; ticks run late now and
// then but never early, so P is the least of the measurements over the last two blocks of
// ticks. Until the playout stage has said so, every queued packet bounds P from below: it plays no
// earlier than it arrived, so P >= transit + (ts - playTS) at arrival, and pLo holds the running
// maximum of that bound. The bound is tight only for packets that arrive just before a tick: with
// packets arriving just after one it is a frame loose, so it is a start, never the estimate a
// running stream is judged by (a delay estimated from it swung by a frame and moved the delay of a
// clean link every few seconds: TestJitterBufferCleanLinkSettles).
//
// The buffer's delay is then D = P - (earliest transit in the window): how long the packets that
// came fastest wait. The target is the spread plus a small guard, bounded to
// [minPlayoutDelay, maxPlayoutDelay]. Where the far end's packets fall between our ticks decides
// which delays are possible (18.5, 38.5 ms...), so the floor is a band one frame wide around
// minPlayoutDelay, in which one possible delay always lies. The buffer asks to grow when the delay
// is under that band, or when a packet was late or came with less than the guard to spare and it
// is the second such close call in the window (one packet held up once is concealed if it missed
// its time, and does not cost the rest of the call 20 ms); it asks to shrink when, one frame
// shorter, it would still be in the band and above what the spread needs. It never drops or
// repeats a frame to do so: the playout stage (playout.go) stretches or compresses the decoded
// signal by pitch periods, waiting up to a patience for a quiet or steady moment unless a packet
// was late, and reports how far it moved the timeline (adjusted).
//
// A sender whose clock runs 0.1% fast makes transit times fall by 1 ms a second: the earliest
// transit falls, D grows past target+frame and 20 ms are taken out every 20 s. One running slow
// makes transit times rise until the guard is used up and 20 ms are put in every 20 s. The
// delay stays within one frame of its target either way (TestJitterBufferClockDrift).

const (
	// adaptBlock is how many packets one window block covers (0.5 s of 20 ms frames).
	adaptBlock = 25
	// adaptBlocks is how many finished blocks the window keeps (8 s).
	adaptBlocks = 16
	// adaptShrinkBlocks is how many finished blocks must be seen before the buffer shrinks: half
	// a second, so a clean link settles at its delay within the call's first second.
	adaptShrinkBlocks = 1
	// shrinkPatience and growPatience are how many ticks an adjustment may wait for a quiet or
	// steady moment.
	shrinkPatience = 50
	growPatience   = 10
)

type transitBlock struct {
	min, max int32 // relative transit, timestamp units
	n        int
	close    int // packets that came late or with less than the guard to spare
}

func (b *transitBlock) add(v int32) {
	if b.n == 0 || v < b.min {
		b.min = v
	}
	if b.n == 0 || v > b.max {
		b.max = v
	}
	b.n++
}

// adaptState is the adaptive part of a jitterBuffer; its methods are called by the buffer only.
type adaptState struct {
	jb                 *jitterBuffer
	minDelay, maxDelay int32 // timestamp units
	guard              int32
	target             int32 // current target delay D*
	initial            int32 // the delay a stream starts with

	haveRef bool
	ref     int64 // transit of the stream's first packet; transit is kept relative to it
	lastRel int32 // relative transit of the packet being inserted

	blocks [adaptBlocks]transitBlock
	nBlock int // finished blocks held
	iBlock int // where the next finished block goes
	cur    transitBlock

	haveP   bool
	pLo     int32 // the playout offset P: measured (measured is set), or a lower bound
	blockP  int32 // maximum bound seen in the current block
	haveBlP bool

	// P as the playout stage measures it: the least measurement of the current block of ticks
	// (pmCur, over pmN ticks) and of the previous one (pmPrev, if havePrev).
	measured bool
	pmCur    int32
	pmPrev   int32
	pmN      int
	havePrev bool

	pending  int // +1 grow, -1 shrink, 0 nothing to do
	patience int

	stretched, shrunk uint64
}

func (a *adaptState) init(jb *jitterBuffer, initial time.Duration) {
	units := func(d time.Duration) int32 { return int32(d * time.Duration(jb.clockRate) / time.Second) }
	*a = adaptState{
		jb:       jb,
		minDelay: units(minPlayoutDelay),
		maxDelay: units(maxPlayoutDelay),
		guard:    int32(jb.step / 8),
		target:   units(initial),
		initial:  units(initial),
	}
}

// reset forgets the transit window: a new stream or a new timeline.
func (a *adaptState) reset() {
	a.haveRef = false
	a.nBlock, a.iBlock = 0, 0
	a.cur = transitBlock{}
	a.haveP, a.haveBlP = false, false
	a.forgetMeasured()
	a.pending = 0
	a.target = a.initial
}

// forgetMeasured drops the measured playout offset: the timeline it belonged to is gone.
func (a *adaptState) forgetMeasured() {
	a.measured, a.pmN, a.havePrev = false, 0, false
}

// observe records the transit time of an arriving packet.
func (a *adaptState) observe(transit int64) {
	if !a.haveRef {
		a.haveRef, a.ref = true, transit
	}
	rel := int32(transit - a.ref) // wraps with the 32-bit timestamp, like the transit
	if lo, hi, ok := a.window(); ok && (rel < lo-2*a.maxDelay || rel > hi+2*a.maxDelay) {
		// Far outside anything seen: the sender's timeline jumped. Start the window again.
		a.reset()
		a.haveRef, a.ref = true, transit
		rel = 0
	}
	a.lastRel = rel
	a.cur.add(rel)
	if a.cur.n >= adaptBlock {
		a.blocks[a.iBlock] = a.cur
		a.iBlock = (a.iBlock + 1) % adaptBlocks
		a.nBlock = min(a.nBlock+1, adaptBlocks)
		a.cur = transitBlock{}
		if a.haveBlP && !a.measured {
			// The bound from the last block replaces the running one, so an error in it heals.
			a.pLo = a.blockP
		}
		a.haveBlP = false
	}
}

// window returns the lowest and highest relative transit in the window.
func (a *adaptState) window() (lo, hi int32, ok bool) {
	if a.cur.n > 0 {
		lo, hi, ok = a.cur.min, a.cur.max, true
	}
	for i := range a.nBlock {
		b := &a.blocks[i]
		if !ok || b.min < lo {
			lo = b.min
		}
		if !ok || b.max > hi {
			hi = b.max
		}
		ok = true
	}
	return lo, hi, ok
}

// closeCalls returns how many packets of the window came late or with less than the guard to
// spare.
func (a *adaptState) closeCalls() int {
	n := a.cur.close
	for i := range a.nBlock {
		n += a.blocks[i].close
	}
	return n
}

// queued records that the packet just observed was queued margin timestamp units ahead of the
// playout point, and decides whether the delay must change.
func (a *adaptState) queued(margin int32) {
	bound := a.lastRel + margin
	if !a.measured && (!a.haveP || bound > a.pLo) {
		a.haveP, a.pLo = true, bound
	}
	if a.haveP && a.pLo-a.lastRel < a.guard {
		a.cur.close++
	}
	if !a.haveBlP || bound > a.blockP {
		a.haveBlP, a.blockP = true, bound
	}
	a.decide(false)
}

// decide sets a pending adjustment when the delay is off target; late says a packet just missed
// its playout time.
func (a *adaptState) decide(late bool) {
	if late {
		a.cur.close++
	}
	lo, hi, ok := a.window()
	if !ok || !a.haveP {
		return
	}
	step := int32(a.jb.step)
	spread := hi - lo
	a.target = min(max(spread+a.guard, a.minDelay), a.maxDelay)
	if a.nBlock < adaptShrinkBlocks {
		// Too little seen to go below the starting delay.
		a.target = max(a.target, a.initial)
	}
	delay := a.pLo - lo
	spare := a.pLo - hi // what the latest packet had to spare
	// The delay moves in steps of about a frame, and where the far end's packets fall between our
	// ticks decides what it can be: 18.5 or 38.5 ms, say. So the floor is a band of one frame
	// around minDelay: the delay grows when it is under the band and shrinks when one step less
	// would still be in it (or above what the jitter needs), and one delay always fits.
	floor := a.minDelay - step/2
	shrinkTo := max(spread+a.guard, floor)
	if a.nBlock < adaptShrinkBlocks {
		shrinkTo = max(shrinkTo, a.initial)
	}
	// One packet held up once (the far end's machine or ours busy for a moment) is concealed if
	// it missed its time, and does not move the delay for the rest of the call; a second close
	// call within the window says the link has jitter.
	tooClose := (late || spare < a.guard) && a.closeCalls() >= 2
	switch {
	case (tooClose || delay < floor) && delay+step <= a.maxDelay:
		if a.pending <= 0 {
			a.pending = 1
			a.patience = growPatience
		}
		if late || spare < 0 {
			a.patience = 0
		}
	case a.pending == 0 && a.nBlock >= adaptShrinkBlocks && (delay-step >= shrinkTo || delay > a.maxDelay):
		a.pending = -1
		a.patience = shrinkPatience
		if delay > a.maxDelay {
			a.patience = 0
		}
	}
}

// adjustment returns the pending change of the playout delay (+1 grow, -1 shrink, 0 none) and
// whether it is due now: a late packet makes a growth urgent; otherwise the playout stage may
// wait a little for a quiet or steady moment (waitAdjust) before it acts.
func (jb *jitterBuffer) adjustment() (dir int, due bool) {
	a := &jb.adapt
	return a.pending, a.patience <= 0
}

// waitAdjust records that the playout stage let one tick pass without acting on the adjustment.
func (jb *jitterBuffer) waitAdjust() {
	if jb.adapt.patience > 0 {
		jb.adapt.patience--
	}
}

// adjusted records that the playout stage changed the delay by d timestamp units (positive: it
// grew) and ends the pending adjustment; the next packet decides whether more is needed.
func (jb *jitterBuffer) adjusted(d int32) {
	a := &jb.adapt
	a.pending = 0
	a.shift(d)
	if d > 0 {
		a.stretched++
	} else if d < 0 {
		a.shrunk++
	}
}

// shift moves the playout offset by d timestamp units (the timeline moved by -d).
func (a *adaptState) shift(d int32) {
	a.pLo += d
	a.blockP += d
	a.pmCur += d
	a.pmPrev += d
}

// takenAt records that the frame at the playout point (the one the next pop returns) is taken at
// local time at. The playout stage calls it before each pop of a frame it plays; what it holds
// already plays first, but a packet that comes after the pop is late all the same.
func (jb *jitterBuffer) takenAt(at time.Time) {
	a := &jb.adapt
	if !jb.anchored || !a.haveRef || jb.origin.IsZero() {
		return
	}
	arr := at.Sub(jb.origin).Microseconds() * int64(jb.clockRate) / 1e6
	p := int32(arr - int64(jb.playTS) - a.ref) // wraps with the 32-bit timestamp, like the transit
	if a.pmN == 0 || p < a.pmCur {
		a.pmCur = p
	}
	a.pmN++
	est := a.pmCur
	if a.havePrev {
		est = min(est, a.pmPrev)
	}
	if a.pmN >= adaptBlock {
		a.pmPrev, a.havePrev, a.pmN = a.pmCur, true, 0
	}
	a.measured, a.haveP, a.pLo = true, true, est
}

// anchorDelay returns the delay of a new timeline, in timestamp units, and forgets the offset
// bound of the old one.
func (a *adaptState) anchorDelay() uint32 {
	a.haveP, a.haveBlP = false, false
	a.forgetMeasured()
	a.pending = 0
	return uint32(a.target)
}

// dueHead returns the queued slot due at the playout point, or nil.
func (jb *jitterBuffer) dueHead() *jitterSlot {
	if jb.queued == 0 {
		return nil
	}
	s := jb.head()
	if s == nil {
		return nil
	}
	if d := int32(s.ts - jb.playTS); d < -jb.half || d > jb.half {
		return nil
	}
	return s
}

// targetMS returns the playout delay the buffer aims at, in milliseconds.
func (jb *jitterBuffer) targetMS() float64 {
	return float64(jb.adapt.target) * 1000 / float64(jb.clockRate)
}

// delayMS returns the buffer's current playout delay (for the packets that came fastest), in
// milliseconds, or the target when it is not measured yet.
func (jb *jitterBuffer) delayMS() float64 {
	lo, _, ok := jb.adapt.window()
	if !ok || !jb.adapt.haveP {
		return jb.targetMS()
	}
	return float64(jb.adapt.pLo-lo) * 1000 / float64(jb.clockRate)
}
