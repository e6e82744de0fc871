package media

import (
	"math"
	"time"
)

const (
	// defaultPlayoutDelay is the starting playout delay of a stream: how long after its arrival
	// the first packet is played. It starts at the floor, where a clean link stays for the whole
	// call; a jittery one grows from there as its packets show (jitter_adapt.go). Starting higher
	// and shrinking later costs a clean link a delay change a second in.
	defaultPlayoutDelay = 20 * time.Millisecond
	// minPlayoutDelay and maxPlayoutDelay bound the adaptive playout delay.
	minPlayoutDelay = 20 * time.Millisecond
	maxPlayoutDelay = 200 * time.Millisecond
	// jitterSlots is the size of the jitter buffer ring: 64 frames, 1.28 s of 20 ms audio.
	jitterSlots = 64
	// maxRTPPayload is the largest payload the jitter buffer keeps: a full Ethernet MTU of UDP
	// minus the RTP header. Larger packets are not audio we negotiated.
	maxRTPPayload = 1472 - 12
	// lateRunReanchor is how many late packets in a row, with nothing queued, make the buffer
	// believe the sender's timeline jumped back and start a new one.
	lateRunReanchor = 3
)

// rtpIn is the part of a received RTP packet the jitter buffer needs. Payload is only borrowed
// for the call to insert.
type rtpIn struct {
	ssrc    uint32
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
}

// insertResult says what the jitter buffer did with a packet.
type insertResult int

const (
	insertQueued    insertResult = iota // kept for playout
	insertDuplicate                     // already queued or played
	insertLate                          // arrived after its playout time
	insertTooBig                        // payload over maxRTPPayload
)

// popResult says what the jitter buffer has for the current 20 ms tick.
type popResult int

const (
	popIdle    popResult = iota // no stream yet, or its first packet is not due yet: play silence
	popFrame                    // the payload due now
	popMissing                  // the frame due now is missing: conceal
)

type slotState uint8

const (
	slotEmpty slotState = iota
	slotQueued
	slotPlayed
)

type jitterSlot struct {
	state   slotState
	seq     uint16
	ts      uint32
	payload []byte // len is the payload, cap is maxRTPPayload
}

// jitterBuffer reorders the audio packets of one stream and releases one frame per tick, an
// adaptive playout delay after the packets arrived (see jitter_adapt.go for how the delay follows
// the measured jitter and absorbs a sender clock that runs fast or slow). Playout follows RTP timestamps,
// not sequence numbers: the playout point playTS advances one frame per tick, so a sender's
// silence (a timestamp jump) is kept as silence and the delay is kept across it. It also keeps
// the receive statistics of RFC 3550: loss (A.3) and interarrival jitter (A.8).
//
// It is not safe for concurrent use and allocates only in newJitterBuffer.
type jitterBuffer struct {
	step      uint32 // RTP timestamp units per frame: what a tick plays
	dur       uint32 // units per frame the far end sends (step until a packet says otherwise)
	half      int32  // dur/2, the tolerance when matching a packet to the playout point
	lastTS    uint32 // timestamp of the last frame returned
	delay     uint32 // playout delay in RTP timestamp units
	clockRate int

	slots  [jitterSlots]jitterSlot
	queued int

	haveSSRC bool
	ssrc     uint32
	streams  uint32 // SSRCs seen: a new one needs a fresh decoder

	anchored bool   // a playout timeline exists
	playTS   uint32 // RTP timestamp of the frame the next pop plays
	// waiting is set while the timeline has not reached its first packet (startTS): those
	// frames were never sent, so they are not missing, and there is nothing to conceal.
	waiting   bool
	startTS   uint32
	playedAny bool   // a frame has been played: the call's audio has begun
	nextSeq   uint16 // sequence number after the last packet played or dropped
	lateRun   int    // late packets in a row

	seq      seqStats
	late     uint64
	dups     uint64
	eventSeq uint16 // last telephone-event sequence number counted
	haveEvt  bool

	// RFC 3550 A.8 interarrival jitter, in timestamp units.
	jitter      float64
	haveTransit bool
	transit     int64
	origin      time.Time

	adapt adaptState
}

// newJitterBuffer returns a buffer for frames of step timestamp units at clockRate, played delay
// after arrival.
func newJitterBuffer(clockRate int, step uint32, delay time.Duration) *jitterBuffer {
	jb := &jitterBuffer{
		step:      step,
		dur:       step,
		half:      int32(step / 2),
		delay:     uint32(delay * time.Duration(clockRate) / time.Second),
		clockRate: clockRate,
	}
	jb.adapt.init(jb, delay)
	store := make([]byte, jitterSlots*maxRTPPayload)
	for i := range jb.slots {
		jb.slots[i].payload = store[i*maxRTPPayload : i*maxRTPPayload : (i+1)*maxRTPPayload]
	}
	return jb
}

// insert files one audio packet that arrived at arrival.
func (jb *jitterBuffer) insert(p rtpIn, arrival time.Time) insertResult {
	if len(p.payload) > maxRTPPayload {
		return insertTooBig
	}
	jb.checkSSRC(p.ssrc)
	slot := &jb.slots[p.seq%jitterSlots]
	if slot.state != slotEmpty && slot.seq == p.seq && slot.ts == p.ts {
		jb.dups++
		return insertDuplicate
	}
	jb.seq.update(p.seq)
	transit := jb.updateJitter(p.ts, arrival)
	jb.adapt.observe(transit)

	switch {
	case !jb.anchored:
		jb.anchor(p.seq, p.ts)
	case p.marker && jb.queued == 0:
		// RFC 3551 §4.1: the marker starts a talkspurt; with nothing queued, start its timeline.
		jb.anchor(p.seq, p.ts)
	case int32(p.ts-jb.playTS) < 0:
		jb.lateRun++
		if jb.lateRun < lateRunReanchor || jb.queued != 0 {
			jb.late++
			jb.adapt.decide(true)
			return insertLate
		}
		jb.adapt.reset()
		jb.adapt.observe(transit)
		jb.anchor(p.seq, p.ts)
	case int32(p.ts-jb.playTS) > int32(jitterSlots*jb.step) || int16(p.seq-jb.nextSeq) >= jitterSlots:
		// Too far ahead to be held: the sender jumped. Follow it.
		jb.adapt.reset()
		jb.adapt.observe(transit)
		jb.anchor(p.seq, p.ts)
	}
	jb.lateRun = 0
	if jb.waiting && int32(p.ts-jb.startTS) < 0 {
		jb.startTS = p.ts // reordered ahead of the first packet: the stream starts with it
	}
	jb.adapt.queued(int32(p.ts - jb.playTS))
	if int16(p.seq-jb.nextSeq) < 0 {
		jb.nextSeq = p.seq
	}
	slot = &jb.slots[p.seq%jitterSlots]
	if slot.state == slotQueued {
		jb.queued--
	}
	slot.state, slot.seq, slot.ts = slotQueued, p.seq, p.ts
	slot.payload = append(slot.payload[:0], p.payload...)
	jb.queued++
	return insertQueued
}

// insertEvent counts a packet of the same stream that is not audio (an RFC 4733 telephone-event):
// it shares the sequence numbers, so loss statistics must see it, but it is not played.
func (jb *jitterBuffer) insertEvent(ssrc uint32, seq uint16) {
	jb.checkSSRC(ssrc)
	if jb.haveEvt && seq == jb.eventSeq {
		return // a retransmitted end packet (RFC 4733 §2.5.1.4)
	}
	jb.haveEvt, jb.eventSeq = true, seq
	jb.seq.update(seq)
}

// checkSSRC starts a new stream when the SSRC changes: the sender restarted, or another sender
// took over. Counters of the previous stream are kept.
func (jb *jitterBuffer) checkSSRC(ssrc uint32) {
	if jb.haveSSRC && jb.ssrc == ssrc {
		return
	}
	jb.haveSSRC, jb.ssrc = true, ssrc
	jb.streams++
	jb.seq.restart()
	jb.clear()
	jb.anchored = false
	jb.haveTransit = false
	jb.haveEvt = false
	jb.adapt.reset()
}

// anchor starts a playout timeline at which the packet (seq, ts) plays the target delay from now.
func (jb *jitterBuffer) anchor(seq uint16, ts uint32) {
	jb.clear()
	jb.anchored = true
	jb.delay = jb.adapt.anchorDelay()
	jb.playTS = ts - jb.delay
	jb.waiting, jb.startTS = true, ts
	jb.nextSeq = seq
	jb.lateRun = 0
}

func (jb *jitterBuffer) clear() {
	for i := range jb.slots {
		jb.slots[i].state = slotEmpty
	}
	jb.queued = 0
}

// pop returns what plays in the current tick and advances the playout point by one frame. A
// returned payload is valid until the next insert.
func (jb *jitterBuffer) pop() ([]byte, popResult) {
	if !jb.anchored {
		return nil, popIdle
	}
	if jb.waiting {
		if int32(jb.startTS-jb.playTS) > jb.half {
			jb.playTS += jb.dur
			if jb.playedAny {
				// A new timeline of a stream already heard (a new SSRC, a timestamp jump, a
				// talkspurt): the listener's audio goes on, so the wait is made up like a loss
				// (or filled with the far end's comfort noise).
				return nil, popMissing
			}
			return nil, popIdle
		}
		jb.waiting = false
	}
	for jb.queued > 0 {
		slot := jb.head()
		if slot == nil {
			jb.clear()
			break
		}
		diff := int32(slot.ts - jb.playTS)
		if diff > jb.half {
			break // the next packet is in the future: this frame is missing
		}
		slot.state = slotPlayed
		jb.queued--
		jb.nextSeq = slot.seq + 1
		if diff < -jb.half {
			// Its time has passed (the sender's timestamps went backwards): drop it.
			jb.late++
			continue
		}
		jb.adapt.shift(-diff)
		jb.lastTS = slot.ts
		jb.playTS = slot.ts + jb.dur
		jb.playedAny = true
		return slot.payload, popFrame
	}
	jb.playTS += jb.dur
	return nil, popMissing
}

// lasted tells the buffer how long the frame it just returned lasted, in timestamp units, once
// it is decoded: a far end may send 10, 30 or 60 ms packets, and the timeline moves on by what
// was played. Missing frames are then made up at that length too.
func (jb *jitterBuffer) lasted(units uint32) {
	if units == 0 || units == jb.dur || units > 6*jb.step {
		return
	}
	jb.dur = units
	jb.half = int32(units / 2)
	jb.playTS = jb.lastTS + units
}

// frameUnits returns the length, in timestamp units, of the frames the far end sends (as far as
// the last one decoded tells).
func (jb *jitterBuffer) frameUnits() uint32 { return jb.dur }

// head returns the queued slot with the lowest sequence number from nextSeq on.
func (jb *jitterBuffer) head() *jitterSlot {
	for i := range uint16(jitterSlots) {
		seq := jb.nextSeq + i
		if s := &jb.slots[seq%jitterSlots]; s.state == slotQueued && s.seq == seq {
			return s
		}
	}
	return nil
}

// skip advances the playout point by n frames, dropping what was due in them; it is used when the
// player skipped ticks or does not play (hold), so the timeline stays in step with the clock.
func (jb *jitterBuffer) skip(n int64) {
	if n > jitterSlots {
		jb.clear()
		jb.anchored = false
		return
	}
	for range n {
		jb.pop()
	}
}

// updateJitter runs RFC 3550 A.8 for a packet with timestamp ts that arrived at arrival, and
// returns the packet's relative transit time (arrival minus timestamp, in timestamp units).
func (jb *jitterBuffer) updateJitter(ts uint32, arrival time.Time) int64 {
	if !jb.haveTransit && jb.origin.IsZero() {
		jb.origin = arrival
	}
	// Arrival in timestamp units; microseconds keep the product far from overflow.
	arr := arrival.Sub(jb.origin).Microseconds() * int64(jb.clockRate) / 1e6
	transit := arr - int64(ts)
	if !jb.haveTransit {
		jb.haveTransit, jb.transit = true, transit
		return transit
	}
	d := transit - jb.transit
	jb.transit = transit
	// Transit differences wrap with the 32-bit timestamp.
	d = int64(int32(d))
	jb.jitter += (math.Abs(float64(d)) - jb.jitter) / 16
	return transit
}

// jitterMS returns the interarrival jitter in milliseconds.
func (jb *jitterBuffer) jitterMS() float64 { return jb.jitter * 1000 / float64(jb.clockRate) }

// lost returns the packets lost over every stream so far (RFC 3550 A.3).
func (jb *jitterBuffer) lost() uint64 { return jb.seq.lost() }

// RFC 3550 A.1 constants.
const (
	seqMaxDropout  = 3000
	seqMaxMisorder = 100
	seqMod         = 1 << 16
)

// seqStats counts expected and received packets of a stream as RFC 3550 A.1 and A.3 do, without
// the probation period (the first packet starts the stream: we already filter by address and
// payload type). Duplicates the jitter buffer recognized are not counted as received, so they
// cannot hide losses.
type seqStats struct {
	started   bool
	baseSeq   uint32
	maxSeq    uint16
	badSeq    uint32
	cycles    uint32
	received  uint64
	lostPrior uint64 // packets lost in earlier streams or before a resynchronisation
}

func (s *seqStats) initSeq(seq uint16) {
	s.lostPrior = s.lost()
	s.started = true
	s.baseSeq = uint32(seq)
	s.maxSeq = seq
	s.badSeq = seqMod + 1
	s.cycles = 0
	s.received = 0
}

// restart forgets the current stream and keeps its losses.
func (s *seqStats) restart() {
	s.lostPrior = s.lost()
	s.started = false
	s.received = 0
}

// update counts packet seq and reports whether it belongs to the stream (A.1 update_seq).
func (s *seqStats) update(seq uint16) bool {
	if !s.started {
		s.initSeq(seq)
		s.received++
		return true
	}
	udelta := seq - s.maxSeq
	switch {
	case udelta < seqMaxDropout:
		if seq < s.maxSeq {
			s.cycles += seqMod
		}
		s.maxSeq = seq
	case uint32(udelta) <= seqMod-seqMaxMisorder:
		// A very large jump: restart on the second packet of the new sequence.
		if uint32(seq) != s.badSeq {
			s.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
		s.initSeq(seq)
	default:
		// Duplicate or reordered packet.
	}
	s.received++
	return true
}

// lost returns expected minus received (A.3), never negative, plus earlier losses.
func (s *seqStats) lost() uint64 {
	if !s.started {
		return s.lostPrior
	}
	expected := uint64(s.cycles) + uint64(s.maxSeq) - uint64(s.baseSeq) + 1
	if expected <= s.received {
		return s.lostPrior
	}
	return s.lostPrior + expected - s.received
}
