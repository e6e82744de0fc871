//go:build linux

package bench

import (
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/testenv"
	"trayphone/media"
)

// clickStream is a microphone that is silent but for a click every period (from start), and a
// speaker that notes when a click comes out. Times are taken at Read and Write: a Read frame's
// samples were captured over the 20 ms before it, a Written frame's play over the 20 ms after.
type clickStream struct {
	mu      sync.Mutex
	rate    int
	start   time.Duration
	period  time.Duration
	origin  time.Time
	n       int         // samples read
	sentAt  []time.Time // capture time of each click
	heardAt []time.Time // play time of each click heard
	quiet   int         // samples since the last click heard
}

func (s *clickStream) Read(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.origin.IsZero() {
		s.origin = now
	}
	for i := range p {
		p[i] = 0
		at := time.Duration(s.n) * time.Second / time.Duration(s.rate)
		if s.period > 0 && at >= s.start && (at-s.start)%s.period < time.Second/time.Duration(s.rate) {
			p[i] = 20000
			// Captured len(p)-i samples before this Read.
			s.sentAt = append(s.sentAt, now.Add(-time.Duration(len(p)-i)*time.Second/time.Duration(s.rate)))
		}
		s.n++
	}
	return nil
}

func (s *clickStream) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for i, v := range p {
		s.quiet++
		if math.Abs(float64(v)) > 8000 && s.quiet > s.rate/10 {
			s.heardAt = append(s.heardAt, now.Add(time.Duration(i)*time.Second/time.Duration(s.rate)))
			s.quiet = 0
		}
	}
	return nil
}

func (s *clickStream) Close() error { return nil }

// TestMouthToEar measures trayphone's pipeline on loopback: a click captured by A's microphone
// stream is encoded (PCMU), sent, buffered by B's jitter buffer (at its 20 ms floor on a clean
// link), decoded and handed to B's speaker stream. Sound-card buffering is not included. The click
// is the first sample of a 20 ms frame, so the whole frame's capture time counts. Run by
// bench/run.sh; the numbers go to docs/PERFORMANCE.md.
func TestMouthToEar(t *testing.T) {
	if os.Getenv("TRAYPHONE_BENCH") == "" {
		t.Skip("benchmark: run bench/run.sh (TRAYPHONE_BENCH=1)")
	}
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	addr := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

	// Where B's 20 ms playout ticks fall relative to A's send ticks decides how long a packet
	// waits for its turn: anything from 0 to 20 ms. Two phones' ticks have no common phase, so
	// four pairs run at once with A started 0, 5, 10 and 15 ms after B, and every click of all
	// four counts.
	type pair struct {
		mic, ear *clickStream
		a, b     *media.Session
	}
	var pairs []pair
	var logs testenv.Buffer
	for range 4 {
		ac, bc := listen(), listen()
		p := pair{mic: &clickStream{rate: 8000, start: 3 * time.Second, period: 500 * time.Millisecond}, ear: &clickStream{rate: 8000}}
		var err error
		// A sends as the phone does by default: with steady send, which on a computer that wakes
		// threads late (this VM) adds its lead (media.SteadyLead).
		p.a, err = media.NewSession(media.SessionConfig{Conn: ac, Remote: addr(bc), Codec: media.PCMU, Stream: p.mic, Direction: media.SendOnly,
			SteadySend: true, Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		p.b, err = media.NewSession(media.SessionConfig{Conn: bc, Remote: addr(ac), Codec: media.PCMU, Stream: p.ear, Direction: media.RecvOnly})
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	for i, p := range pairs {
		p.b.Start()
		time.Sleep(time.Duration(i) * 5 * time.Millisecond)
		p.a.Start()
	}
	time.Sleep(3*time.Second + 20*500*time.Millisecond + 200*time.Millisecond)
	for _, p := range pairs {
		p.a.Close()
		p.b.Close()
	}

	var lat []float64
	sent := 0
	for i, p := range pairs {
		first := len(lat)
		p.mic.mu.Lock()
		p.ear.mu.Lock()
		sent += len(p.mic.sentAt)
		j := 0
		for _, at := range p.mic.sentAt {
			for j < len(p.ear.heardAt) && p.ear.heardAt[j].Before(at) {
				j++
			}
			if j < len(p.ear.heardAt) && p.ear.heardAt[j].Sub(at) < 400*time.Millisecond {
				lat = append(lat, float64(p.ear.heardAt[j].Sub(at))/1e6)
				j++
			}
		}
		p.ear.mu.Unlock()
		p.mic.mu.Unlock()
		t.Logf("pair %d (A started %d ms after B): median %.1f ms", i, 5*i, Median(lat[first:]))
	}
	if len(lat) < sent*9/10 {
		t.Fatalf("heard %d of %d clicks", len(lat), sent)
	}
	steady := strings.Count(logs.String(), "packets now leave from two timer threads")
	t.Logf("senders that changed over to steady send: %d of %d", steady, len(pairs))
	slices.Sort(lat)
	t.Logf("mouth-to-ear (pipeline, loopback, PCMU): %d clicks, min %.1f ms, median %.1f ms, max %.1f ms",
		len(lat), lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if out := os.Getenv("TRAYPHONE_BENCH_LATENCY_OUT"); out != "" {
		line := []byte("mouth-to-ear (pipeline, loopback, PCMU, jitter buffer at its floor, 4 tick phases): " +
			formatMS(lat[0]) + " min, " + formatMS(lat[len(lat)/2]) + " median, " + formatMS(lat[len(lat)-1]) + " max; " +
			strconv.Itoa(steady) + " of 4 senders changed over to steady send (+" + formatMS(float64(media.SteadyLead)/float64(time.Millisecond)) + ")\n")
		if err := os.WriteFile(out, line, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func formatMS(v float64) string { return time.Duration(v * 1e6).Round(100 * time.Microsecond).String() }
