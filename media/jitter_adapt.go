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
// [minPlayoutDelay, maxPlayoutDelay]. The buffer grows by one frame (a stretch: one concealed
// frame, the timeline waits) when the latest packet of the window came with less than the guard to
// spare, or a packet was late; it shrinks by one frame (the frame due is dropped) when, one frame
// shorter, it would still be at or above the target. Both prefer a silent frame when the codec can
// tell (jitterBuffer.silent), within a little patience.
//
// A sender whose clock runs 0.1% fast makes transit times fall by 1 ms a second: the earliest
// transit falls, D grows past target+frame and one frame is dropped every 20 s. One running slow
// makes transit times rise until the guard is used up and one frame is stretched every 20 s. The
// delay stays within one frame of its target either way (TestJitterBufferClockDrift).

const (
	// adaptBlock is how many packets one window block covers (0.5 s of 20 ms frames).
	adaptBlock = 25
	// adaptBlocks is how many finished blocks the window keeps (8 s).
	adaptBlocks = 16
	// adaptShrinkBlocks is how many finished blocks must be seen before the buffer shrinks.
	adaptShrinkBlocks = 2
	// shrinkPatience and growPatience are how many ticks an adjustment waits for a silent frame.
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

// apply runs the pending adjustment at a playout tick when it is time: now, or on a silent frame.
// It reports whether this tick is a stretch (a concealed frame, the timeline does not advance).
func (a *adaptState) apply() bool {
	jb := a.jb
	head := jb.dueHead()
	ready := a.patience <= 0 || jb.silent == nil ||
		(head == nil && a.pending > 0) || (head != nil && jb.silent(head.payload))
	if !ready {
		a.patience--
		return false
	}
	step := int32(jb.step)
	if a.pending > 0 {
		a.pending = 0
		a.shift(step)
		a.stretched++
		return true
	}
	a.pending = 0
	if head != nil {
		head.state = slotPlayed
		jb.queued--
		jb.nextSeq = head.seq + 1
	}
	jb.playTS += jb.step
	a.shift(-step)
	a.shrunk++
	return false
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

// silenceLevel is the peak below which a G.711 frame counts as silence for the jitter buffer's
// adjustments (about -44 dBFS).
const silenceLevel = 200

// silenceDetector returns the payload silence test the jitter buffer uses to place its drift
// adjustments for the codec named name, or nil when it has none (the buffer then adjusts at
// once). The session sets jitterBuffer.silent from it.
func silenceDetector(name string) func(payload []byte) bool {
	var table *[256]int16
	switch name {
	case PCMU.Name:
		table = &ulawTable
	case PCMA.Name:
		table = &alawTable
	default:
		return nil
	}
	return func(payload []byte) bool {
		for _, b := range payload {
			if v := table[b]; v > silenceLevel || v < -silenceLevel {
				return false
			}
		}
		return true
	}
}
