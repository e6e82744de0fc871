package media

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"trayphone/internal/clock"
)

// jbStep is one action on a jitter buffer in a table test: an insert (want is an insertResult) or
// a pop (want is the sequence number played, or jbMissing / jbIdle).
type jbStep struct {
	pop    bool
	ssrc   uint32
	seq    uint16
	ts     uint32
	marker bool
	want   int
}

const (
	jbMissing = -1
	jbIdle    = -2
	jbSSRC    = 0x1234
)

func jbIn(seq uint16, ts uint32, want insertResult) jbStep {
	return jbStep{ssrc: jbSSRC, seq: seq, ts: ts, want: int(want)}
}

func jbPop(want int) jbStep { return jbStep{pop: true, want: want} }

// jbPops returns n pops that each want want.
func jbPops(n, want int) []jbStep {
	s := make([]jbStep, n)
	for i := range s {
		s[i] = jbPop(want)
	}
	return s
}

func jbSteps(parts ...any) []jbStep {
	var out []jbStep
	for _, p := range parts {
		switch p := p.(type) {
		case jbStep:
			out = append(out, p)
		case []jbStep:
			out = append(out, p...)
		}
	}
	return out
}

// ts of packet seq in a stream that started at seq 100, ts 8000, 20 ms frames.
func jbTS(seq uint16) uint32 { return 8000 + uint32(seq-100)*160 }

func TestJitterBuffer(t *testing.T) {
	t.Parallel()
	const wrapTS = math.MaxUint32 - 320 + 1 // timestamp of seq 65534 in the wrap case
	wts := func(seq uint16) uint32 { return wrapTS + uint32(seq-65534)*160 }
	tests := []struct {
		name  string
		steps []jbStep
		lost  uint64
		late  uint64
		dups  uint64
	}{
		{
			name:  "idle before the first packet",
			steps: jbSteps(jbPops(3, jbIdle)),
		},
		{
			name: "in order, played 60 ms after the first arrival",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued), jbPop(jbIdle),
				jbIn(101, jbTS(101), insertQueued), jbPop(jbIdle),
				jbIn(102, jbTS(102), insertQueued), jbPop(jbIdle),
				jbIn(103, jbTS(103), insertQueued), jbPop(100),
				jbIn(104, jbTS(104), insertQueued), jbPop(101),
				jbPop(102), jbPop(103), jbPop(104), jbPop(jbMissing),
			),
		},
		{
			name: "reordered",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(102, jbTS(102), insertQueued),
				jbIn(101, jbTS(101), insertQueued),
				jbIn(104, jbTS(104), insertQueued),
				jbIn(103, jbTS(103), insertQueued),
				jbPops(3, jbIdle), jbPop(100), jbPop(101), jbPop(102), jbPop(103), jbPop(104),
			),
		},
		{
			name: "reordered before the first packet played",
			steps: jbSteps(
				jbIn(101, jbTS(101), insertQueued),
				jbIn(100, jbTS(100), insertQueued),
				jbPops(2, jbIdle), jbPop(100), jbPop(101),
			),
		},
		{
			name: "duplicates, queued and already played",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(100, jbTS(100), insertDuplicate),
				jbIn(101, jbTS(101), insertQueued),
				jbPops(3, jbIdle), jbPop(100),
				jbIn(100, jbTS(100), insertDuplicate),
				jbPop(101),
			),
			dups: 2,
		},
		{
			name: "lost packet is concealed",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(101, jbTS(101), insertQueued),
				jbIn(103, jbTS(103), insertQueued),
				jbIn(104, jbTS(104), insertQueued),
				jbPops(3, jbIdle), jbPop(100), jbPop(101), jbPop(jbMissing), jbPop(103), jbPop(104),
			),
			lost: 1,
		},
		{
			name: "late packet is dropped and counted, not lost; one late packet does not move the delay",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(101, jbTS(101), insertQueued),
				jbIn(103, jbTS(103), insertQueued),
				jbPops(3, jbIdle), jbPop(100), jbPop(101), jbPop(jbMissing),
				jbIn(102, jbTS(102), insertLate),
				jbPop(103),
			),
			late: 1,
		},
		{
			name: "a second late packet in the window grows the buffer by a frame",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(101, jbTS(101), insertQueued),
				jbIn(103, jbTS(103), insertQueued),
				jbIn(105, jbTS(105), insertQueued),
				jbPops(3, jbIdle), jbPop(100), jbPop(101), jbPop(jbMissing),
				jbIn(102, jbTS(102), insertLate),
				jbPop(103), jbPop(jbMissing),
				jbIn(104, jbTS(104), insertLate),
				jbPop(jbMissing), // the stretch
				jbPop(105),
			),
			late: 2,
		},
		{
			name: "sequence and timestamp wrap",
			steps: jbSteps(
				jbIn(65534, wts(65534), insertQueued),
				jbIn(65535, wts(65535), insertQueued),
				jbIn(1, wts(1), insertQueued),
				jbIn(0, wts(0), insertQueued),
				jbIn(2, wts(2), insertQueued),
				jbPops(3, jbIdle), jbPop(65534), jbPop(65535), jbPop(0), jbPop(1), jbPop(2),
			),
		},
		{
			name: "loss across the sequence wrap",
			steps: jbSteps(
				jbIn(65534, wts(65534), insertQueued),
				jbIn(0, wts(0), insertQueued),
				jbIn(1, wts(1), insertQueued),
				jbPops(3, jbIdle), jbPop(65534), jbPop(jbMissing), jbPop(0), jbPop(1),
			),
			lost: 1,
		},
		{
			name: "SSRC change starts a new stream and keeps the counts",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(102, jbTS(102), insertQueued), // 101 lost
				jbPops(3, jbIdle), jbPop(100),
				jbStep{ssrc: 99, seq: 7, ts: 5, want: int(insertQueued)},
				jbStep{ssrc: 99, seq: 8, ts: 165, want: int(insertQueued)},
				jbPops(3, jbMissing), jbPop(7), jbPop(8),
			),
			lost: 1,
		},
		{
			name: "silence in the sender (timestamp gap) stays silence",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(101, jbTS(110), insertQueued), // 9 frames of silence suppressed
				jbPops(3, jbIdle), jbPop(100), jbPops(9, jbMissing), jbPop(101),
			),
		},
		{
			name: "marker on an empty buffer starts a new timeline",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbPops(3, jbIdle), jbPop(100), jbPop(jbMissing),
				jbStep{ssrc: jbSSRC, seq: 101, ts: jbTS(101) + 40000, marker: true, want: int(insertQueued)},
				jbPops(3, jbMissing), jbPop(101),
			),
		},
		{
			name: "a sender whose timestamps went back is followed after three late packets",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbPops(3, jbIdle), jbPop(100),
				jbIn(101, 10, insertLate),
				jbIn(102, 170, insertLate),
				jbIn(103, 330, insertQueued),
				jbPops(3, jbMissing), jbPop(103),
			),
			late: 2,
		},
		{
			name: "a jump far ahead is followed",
			steps: jbSteps(
				jbIn(100, jbTS(100), insertQueued),
				jbIn(101, jbTS(101), insertQueued),
				jbPops(3, jbIdle), jbPop(100),
				jbIn(5000, jbTS(101)+1_000_000, insertQueued),
				jbPops(3, jbMissing), jbPop(5000),
			),
			lost: 0, // A.3 takes the first packet of a large jump as a stray one
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Unix(1000, 0))
			jb := newJitterBuffer(8000, 160, 60*time.Millisecond)
			for i, st := range tt.steps {
				if st.pop {
					payload, res := simPop(jb, clk.Now())
					got := jbMissing
					switch res {
					case popIdle:
						got = jbIdle
					case popFrame:
						got = int(binary.BigEndian.Uint16(payload))
					}
					if got != st.want {
						t.Fatalf("step %d: pop got %d, want %d", i, got, st.want)
					}
					clk.Advance(20 * time.Millisecond)
					continue
				}
				var payload [2]byte
				binary.BigEndian.PutUint16(payload[:], st.seq)
				got := jb.insert(rtpIn{ssrc: st.ssrc, seq: st.seq, ts: st.ts, marker: st.marker, payload: payload[:]}, clk.Now())
				if int(got) != st.want {
					t.Fatalf("step %d: insert seq %d got %d, want %d", i, st.seq, got, st.want)
				}
			}
			if got := jb.lost(); got != tt.lost {
				t.Errorf("lost: got %d, want %d", got, tt.lost)
			}
			if jb.late != tt.late {
				t.Errorf("late: got %d, want %d", jb.late, tt.late)
			}
			if jb.dups != tt.dups {
				t.Errorf("duplicates: got %d, want %d", jb.dups, tt.dups)
			}
		})
	}
}

func TestJitterBufferTooBig(t *testing.T) {
	t.Parallel()
	jb := newJitterBuffer(8000, 160, 60*time.Millisecond)
	got := jb.insert(rtpIn{seq: 1, payload: make([]byte, maxRTPPayload+1)}, time.Now())
	if got != insertTooBig {
		t.Fatalf("got %d, want insertTooBig", got)
	}
}

// TestJitterBufferInterarrivalJitter checks RFC 3550 A.8 with arrivals from a fake clock.
func TestJitterBufferInterarrivalJitter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		offset   func(i int) time.Duration // network delay of packet i
		min, max float64                   // ms
	}{
		{"steady", func(int) time.Duration { return 0 }, 0, 0},
		{"alternating 5 ms", func(i int) time.Duration { return time.Duration(i%2) * 5 * time.Millisecond }, 4.9, 5.01},
		{"constant 30 ms", func(int) time.Duration { return 30 * time.Millisecond }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Unix(1000, 0))
			jb := newJitterBuffer(8000, 160, 60*time.Millisecond)
			start := clk.Now()
			for i := range 300 {
				arrival := start.Add(time.Duration(i)*20*time.Millisecond + tt.offset(i))
				seq := uint16(65500 + i) // wraps
				jb.insert(rtpIn{ssrc: 1, seq: seq, ts: math.MaxUint32 - 4000 + uint32(i)*160, payload: []byte{0}}, arrival)
				jb.pop()
			}
			if got := jb.jitterMS(); got < tt.min || got > tt.max {
				t.Errorf("jitter: got %.3f ms, want %.2f-%.2f", got, tt.min, tt.max)
			}
			if got := jb.lost(); got != 0 {
				t.Errorf("lost: got %d, want 0", got)
			}
		})
	}
}

func TestSeqStatsLargeJump(t *testing.T) {
	t.Parallel()
	var s seqStats
	for seq := uint16(10); seq < 20; seq++ {
		s.update(seq)
	}
	// A jump of 10000: the first packet is a stray, the second restarts the count.
	if s.update(10020) {
		t.Fatalf("first packet of a large jump: got accepted, want refused")
	}
	if !s.update(10021) {
		t.Fatalf("second packet of a large jump: got refused, want a restart")
	}
	s.update(10023) // 10022 lost
	if got := s.lost(); got != 1 {
		t.Errorf("lost: got %d, want 1", got)
	}
}

func TestJitterBufferAllocs(t *testing.T) {
	jb := newJitterBuffer(8000, 160, 60*time.Millisecond)
	payload := make([]byte, 160)
	now := time.Unix(1000, 0)
	seq, ts := uint16(0), uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		jb.insert(rtpIn{ssrc: 1, seq: seq, ts: ts, payload: payload}, now)
		jb.pop()
		seq++
		ts += 160
		now = now.Add(20 * time.Millisecond)
	})
	if allocs != 0 {
		t.Errorf("insert+pop: got %v allocs, want 0", allocs)
	}
}
