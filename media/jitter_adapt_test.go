package media

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// jbSimResult is what a simulated stream through a jitter buffer measured.
type jbSimResult struct {
	frames, missing   int
	minLat, maxLat    time.Duration // send to playout of played frames, after the first 10 s
	lastLat           time.Duration // mean latency of the last 10 s
	maxQueued         int
	stretched, shrunk uint64
	late              uint64
	targetMS, delayMS float64
	adjustsAfter1s    int           // delay changes after the first second
	lastAdjust        time.Duration // when the last one was
}

// jbSim sends a 20 ms stream for dur from a sender whose clock runs drift fast (0.001 is 0.1%)
// over a network that delays packet i by base+jitter(i), into a jitter buffer popped every 20 ms
// of the receiver's clock, all on simulated time. Packets carry their index so the latency of each
// played frame is known.
func jbSim(t *testing.T, dur time.Duration, drift float64, base time.Duration, jitter func(i int, at time.Duration) time.Duration) jbSimResult {
	t.Helper()
	return jbSimPhase(t, dur, drift, base, 7*time.Millisecond, jitter, nil)
}

// jbSimPhase is jbSim with the receiver's ticks phase after the sender's, tick n running
// tickLate(n) late (its goroutine held up) when tickLate is set.
func jbSimPhase(t *testing.T, dur time.Duration, drift float64, base, phase time.Duration, jitter func(i int, at time.Duration) time.Duration, tickLate func(n int) time.Duration) jbSimResult {
	t.Helper()
	type pkt struct {
		i      int
		sent   time.Duration
		arrive time.Duration
	}
	interval := time.Duration(float64(20*time.Millisecond) / (1 + drift))
	n := int(dur / interval)
	pkts := make([]pkt, n)
	for i := range pkts {
		sent := time.Duration(i) * interval
		pkts[i] = pkt{i: i, sent: sent, arrive: sent + base + jitter(i, sent)}
	}
	slices.SortStableFunc(pkts, func(a, b pkt) int { return int(a.arrive - b.arrive) })

	jb := newJitterBuffer(8000, 160, defaultPlayoutDelay)
	origin := time.Unix(1000, 0)
	var r jbSimResult
	r.minLat = time.Hour
	var lastSum time.Duration
	var lastN int
	next := 0
	var payload [4]byte
	for tick := time.Duration(0); tick < dur; tick += 20 * time.Millisecond {
		now := tick + phase
		if tickLate != nil {
			now += tickLate(int(tick / (20 * time.Millisecond)))
		}
		for next < len(pkts) && pkts[next].arrive <= now {
			p := pkts[next]
			binary.BigEndian.PutUint32(payload[:], uint32(p.i))
			jb.insert(rtpIn{ssrc: 1, seq: uint16(p.i), ts: uint32(p.i) * 160, payload: payload[:]}, origin.Add(p.arrive))
			next++
		}
		r.maxQueued = max(r.maxQueued, jb.queued)
		before := jb.adapt.stretched + jb.adapt.shrunk
		out, res := simPop(jb, origin.Add(now))
		if jb.adapt.stretched+jb.adapt.shrunk != before {
			r.lastAdjust = tick
			if tick >= time.Second {
				r.adjustsAfter1s++
			}
		}
		switch res {
		case popFrame:
			r.frames++
			i := int(binary.BigEndian.Uint32(out))
			lat := now - time.Duration(i)*interval
			if tick > 10*time.Second {
				r.minLat = min(r.minLat, lat)
				r.maxLat = max(r.maxLat, lat)
			}
			if tick > dur-10*time.Second {
				lastSum += lat
				lastN++
			}
		case popMissing:
			if tick > time.Second {
				r.missing++
			}
		}
	}
	if lastN > 0 {
		r.lastLat = lastSum / time.Duration(lastN)
	}
	r.stretched, r.shrunk, r.late = jb.adapt.stretched, jb.adapt.shrunk, jb.late
	r.targetMS, r.delayMS = jb.targetMS(), jb.delayMS()
	return r
}

// simPop plays one tick as a playout stage that changes the delay by whole frames would: a growth
// plays nothing from the buffer (the timeline waits a frame), a shrink plays the frame after the
// one due. The real playout stage (playout.go) does the same on the decoded signal, a pitch period
// at a time; this keeps the buffer's decisions testable over simulated hours.
// The frame it plays starts playing at now.
func simPop(jb *jitterBuffer, now time.Time) ([]byte, popResult) {
	switch dir, _ := jb.adjustment(); {
	case dir > 0:
		jb.adjusted(int32(jb.step))
		return nil, popMissing
	case dir < 0:
		if jb.dueHead() != nil {
			jb.pop()
			jb.adjusted(-int32(jb.step))
		}
	}
	jb.takenAt(now)
	return jb.pop()
}

func noJitter(int, time.Duration) time.Duration { return 0 }

func uniformJitter(seed uint64, maxJ time.Duration) func(int, time.Duration) time.Duration {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(int, time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(maxJ) + 1)) }
}

// TestJitterBufferClockDrift runs a simulated hour with the sender's clock 0.1% fast and 0.1% slow:
// the buffer neither grows nor starves, it drops or stretches one frame about every 20 s.
func TestJitterBufferClockDrift(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		drift float64
	}{
		{"sender 0.1% fast", 0.001},
		{"sender 0.1% slow", -0.001},
		{"sender exact", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := jbSim(t, time.Hour, tt.drift, 10*time.Millisecond, uniformJitter(1, 4*time.Millisecond))
			t.Logf("%+v", r)
			// Latency: network 10 ms + jitter 0-4 ms + the buffer's wait. The wait of the packets
			// that came fastest is in the floor's band, [10, 30) ms, plus up to a frame while a
			// drift step is due; a slow sender's latest packets wait only what they have to spare.
			if r.minLat < 12*time.Millisecond || r.maxLat > 80*time.Millisecond {
				t.Errorf("latency range %v-%v, want within 12-80 ms for the whole hour", r.minLat, r.maxLat)
			}
			if r.maxQueued > 5 {
				t.Errorf("max queued %d frames, want <= 5 (no growth)", r.maxQueued)
			}
			adjust := r.stretched + r.shrunk
			if tt.drift == 0 {
				if adjust > 4 {
					t.Errorf("adjustments %d without drift, want <= 4", adjust)
				}
			} else if adjust < 150 || adjust > 250 {
				// 0.1% of an hour is 3.6 s: 180 frames.
				t.Errorf("adjustments %d (stretched %d, shrunk %d), want about 180", adjust, r.stretched, r.shrunk)
			}
			if r.late > 10 {
				t.Errorf("late packets %d, want <= 10", r.late)
			}
			// Frames missing = stretches (concealed on purpose) plus lates; nothing else starves.
			if uint64(r.missing) > r.stretched+r.late+2 {
				t.Errorf("missing %d, want <= stretched %d + late %d", r.missing, r.stretched, r.late)
			}
		})
	}
}

// TestJitterBufferAdapts checks the delay against the network's jitter: it starts at 40 ms, falls
// to its 20 ms floor on a clean network, rises with jitter, and stays within 200 ms.
func TestJitterBufferAdapts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		jitter             func(int, time.Duration) time.Duration
		minDelay, maxDelay float64 // ms, buffer delay at the end
		maxLateFraction    float64
		maxLastLat         time.Duration
		minLastLat         time.Duration
	}{
		{"clean network: floor", noJitter, 20, 40, 0, 50 * time.Millisecond, 20 * time.Millisecond},
		{"jitter 0-60 ms", uniformJitter(2, 60*time.Millisecond), 60, 100, 0.005, 150 * time.Millisecond, 60 * time.Millisecond},
		{"jitter 0-400 ms: bounded", uniformJitter(3, 400*time.Millisecond), 150, 200, 1, 450 * time.Millisecond, 0},
		{"jitter 0-60 ms for a minute, then clean: shrinks back", func(i int, at time.Duration) time.Duration {
			if at < time.Minute {
				return time.Duration(i*7919%61) * time.Millisecond
			}
			return 0
		}, 20, 40, 0.005, 50 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := jbSim(t, 2*time.Minute, 0, 5*time.Millisecond, tt.jitter)
			t.Logf("frames %d missing %d late %d target %.1f delay %.1f last latency %v stretched %d shrunk %d",
				r.frames, r.missing, r.late, r.targetMS, r.delayMS, r.lastLat, r.stretched, r.shrunk)
			if r.delayMS < tt.minDelay || r.delayMS > tt.maxDelay {
				t.Errorf("delay %.1f ms, want %.0f-%.0f", r.delayMS, tt.minDelay, tt.maxDelay)
			}
			if f := float64(r.late) / float64(r.frames); f > tt.maxLateFraction {
				t.Errorf("late fraction %.4f, want <= %.4f", f, tt.maxLateFraction)
			}
			if r.lastLat > tt.maxLastLat || r.lastLat < tt.minLastLat {
				t.Errorf("mean latency of the last 10 s %v, want %v-%v", r.lastLat, tt.minLastLat, tt.maxLastLat)
			}
		})
	}
}

// TestJitterBufferStartsAt20ms checks the first packet plays 20 ms (one tick) after it arrived:
// the floor, where a clean link stays (a jittery one grows from there).
func TestJitterBufferStartsAt20ms(t *testing.T) {
	t.Parallel()
	jb := newJitterBuffer(8000, 160, defaultPlayoutDelay)
	jb.insert(rtpIn{ssrc: 1, seq: 1, ts: 0, payload: []byte{1}}, time.Unix(1000, 0))
	for i := range 1 {
		if _, res := jb.pop(); res != popIdle {
			t.Fatalf("pop %d: got %d, want popIdle (waiting for the first packet, nothing lost)", i, res)
		}
	}
	if _, res := jb.pop(); res != popFrame {
		t.Fatalf("second pop: got %d, want popFrame", res)
	}
}

// TestJitterBufferCleanLinkSettles: on a clean link the delay settles in the first second and
// then does not move for the rest of the call, whatever the phase of the far end's packets against
// our ticks, and although our ticks run up to a few milliseconds late now and then (the goroutine
// scheduled late). The buffer used to estimate its playout offset from the packets alone, as a
// bound that is tight only for packets arriving just before a tick: with packets arriving just
// after one, the bound was a frame loose except when a tick ran late, so the estimate swung by a
// frame and the delay grew and shrank every few seconds (14 changes a minute at a 19.5 ms phase and
// ticks 0-1 ms late). The playout stage now says when each frame plays.
func TestJitterBufferCleanLinkSettles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		jitter func() func(int, time.Duration) time.Duration // a new one for each run
	}{
		{"no jitter", func() func(int, time.Duration) time.Duration { return noJitter }},
		{"0-1 ms", func() func(int, time.Duration) time.Duration { return uniformJitter(4, time.Millisecond) }},
		{"0-1 ms, first packet slowest", func() func(int, time.Duration) time.Duration {
			j := uniformJitter(5, time.Millisecond)
			return func(i int, at time.Duration) time.Duration {
				if i == 0 {
					return time.Millisecond
				}
				return j(i, at)
			}
		}},
		{"0-1 ms, one packet 15 ms late at 3 s", func() func(int, time.Duration) time.Duration {
			j := uniformJitter(6, time.Millisecond)
			return func(i int, at time.Duration) time.Duration {
				if i == 150 {
					return 15 * time.Millisecond
				}
				return j(i, at)
			}
		}},
	} {
		for _, ticks := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond} {
			for _, phase := range []time.Duration{0, 500 * time.Microsecond, 7 * time.Millisecond, 15 * time.Millisecond, 19500 * time.Microsecond} {
				t.Run(fmt.Sprintf("%s/ticks 0-%v late/phase %v", tt.name, ticks, phase), func(t *testing.T) {
					t.Parallel()
					rng := uniformJitter(7, ticks)
					r := jbSimPhase(t, time.Minute, 0, 0, phase, tt.jitter(), func(n int) time.Duration { return rng(n, 0) })
					if r.adjustsAfter1s > 0 || r.late > 0 {
						t.Errorf("%d delay changes after the first second (the last at %v), %d late; want none (delay %.1f ms)", r.adjustsAfter1s, r.lastAdjust, r.late, r.delayMS)
					}
				})
			}
		}
	}
}
