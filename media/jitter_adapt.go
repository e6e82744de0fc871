package media

import "time"

// How the jitter buffer's playout delay adapts.
//
// Every packet has a relative transit time: its arrival time minus its RTP timestamp, both in
// timestamp units. Over a sliding window the spread of transit times (latest minus earliest) is
// the jitter the buffer must absorb. The playout timeline has an offset P: the frame with
// timestamp ts plays at local time ts+P. P is not known exactly (the buffer does not see the
// playout ticks), but every queued packet bounds it from below: it plays no earlier than it
// arrived, so P >= transit + (ts - playTS) at arrival. The running maximum of that bound, pLo,
// converges on P within a fraction of a frame.
//
// The buffer's delay is then D = pLo - (earliest transit in the window): how long the packets that
// came fastest wait. The target is the spread plus a small guard, bounded to
// [minPlayoutDelay, maxPlayoutDelay]. The buffer asks to grow when the latest packet of the
// window came with less than the guard to spare, or a packet was late; it asks to shrink when, one
// frame shorter, it would still be at or above the target. It never drops or repeats a frame to do
// so: the playout stage (playout.go) stretches or compresses the decoded signal by pitch periods,
// waiting up to a patience for a quiet or steady moment unless a packet was late, and reports how
// far it moved the timeline (adjusted).
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
	pLo     int32 // lower bound of the playout offset P
	blockP  int32 // maximum bound seen in the current block
	haveBlP bool

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
	a.pending = 0
	a.target = a.initial
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
		if a.haveBlP {
			// The bound from the last block replaces the running one, so an error in it heals.
			a.pLo, a.haveBlP = a.blockP, false
		}
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

// queued records that the packet just observed was queued margin timestamp units ahead of the
// playout point, and decides whether the delay must change.
func (a *adaptState) queued(margin int32) {
	bound := a.lastRel + margin
	if !a.haveP || bound > a.pLo {
		a.haveP, a.pLo = true, bound
	}
	if !a.haveBlP || bound > a.blockP {
		a.haveBlP, a.blockP = true, bound
	}
	a.decide(false)
}

// decide sets a pending adjustment when the delay is off target; late says a packet just missed
// its playout time.
func (a *adaptState) decide(late bool) {
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
	switch {
	case (late || spare < a.guard || delay < a.minDelay) && delay+step <= a.maxDelay:
		if a.pending <= 0 {
			a.pending = 1
			a.patience = growPatience
		}
		if late || spare < 0 {
			a.patience = 0
		}
	case a.pending == 0 && a.nBlock >= adaptShrinkBlocks && (delay-step >= a.target || delay > a.maxDelay):
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
}

// anchorDelay returns the delay of a new timeline, in timestamp units, and forgets the offset
// bound of the old one.
func (a *adaptState) anchorDelay() uint32 {
	a.haveP, a.haveBlP = false, false
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
