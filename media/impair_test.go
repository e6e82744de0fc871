package media_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

// impairment is what the lossy relay does to the packets going through it.
type impairment struct {
	loss    float64       // fraction dropped
	base    time.Duration // delay of every packet
	jitter  time.Duration // extra delay, uniform in [0, jitter): reorders above 20 ms
	dupRate float64       // fraction sent twice
}

// relay forwards UDP datagrams arriving on conn to dst, impaired. It returns when conn is closed.
func relay(conn *net.UDPConn, dst netip.AddrPort, imp impairment, seed uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := rand.New(rand.NewPCG(seed, seed))
	var sends sync.WaitGroup
	defer sends.Wait()
	buf := make([]byte, 2048)
	for {
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if rng.Float64() < imp.loss {
			continue
		}
		copies := 1
		if rng.Float64() < imp.dupRate {
			copies = 2
		}
		pkt := append([]byte(nil), buf[:n]...)
		for range copies {
			d := imp.base
			if imp.jitter > 0 {
				d += time.Duration(rng.Int64N(int64(imp.jitter)))
			}
			sends.Add(1)
			time.AfterFunc(d, func() {
				defer sends.Done()
				_, _ = conn.WriteToUDPAddrPort(pkt, dst)
			})
		}
	}
}

// toneStream is a microphone playing a sine and a speaker recording what it is given.
type toneStream struct {
	freq, phase float64
	mu          sync.Mutex
	played      []int16
}

func (s *toneStream) Read(p []int16) error {
	for i := range p {
		p[i] = int16(16000 * math.Sin(s.phase))
		s.phase = math.Mod(s.phase+2*math.Pi*s.freq/8000, 2*math.Pi)
	}
	return nil
}

func (s *toneStream) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.played = append(s.played, p...)
	return nil
}

func (s *toneStream) Close() error { return nil }

func (s *toneStream) recording() []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int16(nil), s.played...)
}

func listenLoop(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// estimateMOS is the ITU-T G.107 E-model, reduced to what a G.711 call on a LAN varies in: packet
// loss (Ie,eff with G.113's Bpl = 25.1 for G.711 with concealment, random loss) and one-way delay
// (Id, simplified). It stands in when the session reports no MOS of its own, and cross-checks it.
func estimateMOS(lossPct, delayMS float64) float64 {
	const ro, ie, bpl = 93.2, 0.0, 25.1
	ieEff := ie + (95-ie)*lossPct/(lossPct+bpl)
	id := 0.024 * delayMS
	if delayMS > 177.3 {
		id += 0.11 * (delayMS - 177.3)
	}
	r := ro - id - ieEff
	switch {
	case r < 0:
		return 1
	case r > 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}

type impairResult struct {
	call     audiotest.Call
	snr      float64 // whole-call SINAD
	gaps     int     // 10 ms blocks near silence in the middle of the tone
	skips    int     // times the sender fell behind and skipped frames
	lossPct  float64
	jitterMS float64
	mos      float64
}

// impairTone is the test tone of the impaired calls: 1004 Hz (see wholeCallTargets).
const impairTone = 1004

// runImpaired sends a 1004 Hz tone from one session to another through the relay for dur and
// measures what the receiver played.
func runImpaired(t *testing.T, imp impairment, seed uint64, dur time.Duration) impairResult {
	t.Helper()
	aConn, bConn, relayConn := listenLoop(t), listenLoop(t), listenLoop(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go relay(relayConn, addrOf(bConn), imp, seed, &wg)

	src, sink := &toneStream{freq: impairTone}, &toneStream{}
	// A sender held up for longer than its pacer catches up skips frames: those gaps are the
	// machine's, not the network's, and are allowed for.
	var lastTS uint32
	var haveTS bool
	skipped := 0
	observe := media.WithSendObserver(func(_ time.Time, _ uint16, ts uint32) {
		if haveTS && ts-lastTS > 160 {
			skipped++
		}
		lastTS, haveTS = ts, true
	})
	a, err := media.NewSession(media.SessionConfig{Conn: aConn, Remote: addrOf(relayConn), Codec: media.PCMU, Stream: src, Direction: media.SendOnly}, observe)
	if err != nil {
		t.Fatal(err)
	}
	b, err := media.NewSession(media.SessionConfig{Conn: bConn, Remote: addrOf(relayConn), Codec: media.PCMU, Stream: sink, Direction: media.RecvOnly})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	b.Start()
	time.Sleep(dur)
	a.Close()
	time.Sleep(imp.base + imp.jitter + 100*time.Millisecond)
	st := b.Stats()
	a.Close() // after Close the observer has returned for good
	b.Close()
	relayConn.Close()
	wg.Wait()

	call, err := audiotest.MeasureCall(sink.recording(), 8000, impairTone)
	if err != nil {
		t.Fatalf("the received audio: %v", err)
	}
	r := impairResult{
		call:     call,
		snr:      call.SINADdB,
		gaps:     call.Gaps,
		skips:    skipped,
		jitterMS: st.JitterMS,
	}
	if total := st.PacketsReceived + st.PacketsLost; total > 0 {
		r.lossPct = 100 * float64(st.PacketsLost) / float64(total)
	}
	// One-way delay: the relay's, plus the jitter buffer's (about the relay's jitter, at least 20 ms).
	delay := float64((imp.base+imp.jitter/2)/time.Millisecond) + max(20, float64(imp.jitter/time.Millisecond))
	r.mos = st.MOS // the session's own E-model estimate (media/emodel.go)
	if r.mos == 0 {
		r.mos = estimateMOS(r.lossPct, delay)
	}
	t.Logf("MOS: session %.2f, this test's estimate %.2f", st.MOS, estimateMOS(r.lossPct, delay))
	t.Logf("loss %.0f%% jitter %v: measured loss %.1f%%, jitter %.1f ms, received %d, late %d, dups %d; %v (sender skips %d), MOS %.2f",
		imp.loss*100, imp.jitter, r.lossPct, st.JitterMS, st.PacketsReceived, st.Late, st.Duplicates, r.call, r.skips, r.mos)
	return r
}

// TestImpairment runs a call's audio through a relay that drops 1, 5, 10 and 20% of the packets,
// reorders them (delay jitter of up to 30 ms) and duplicates some: the received tone keeps its
// frequency (whole-call SINAD bounds per loss level), losses are concealed rather than played as gaps, and
// the MOS estimate falls as the loss grows.
func TestImpairment(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real-time sessions for a few seconds")
	}
	t.Parallel()
	// At 5 % loss the tone must keep 25 dB over the whole call with no near-silent gap (pitch
	// concealment, not repeat-and-fade); the other levels are bars this code meets with margin.
	levels := []struct {
		loss     float64
		minSINAD float64
		maxGaps  int
	}{
		{0.01, 30, 0},
		{0.05, 25, 0},
		{0.10, 20, 0},
		{0.20, 15, 4},
	}
	results := make([]impairResult, len(levels))
	t.Run("levels", func(t *testing.T) {
		for i, lv := range levels {
			t.Run(fmt.Sprintf("loss %.0f%%", lv.loss*100), func(t *testing.T) {
				t.Parallel()
				r := runImpaired(t, impairment{loss: lv.loss, base: 5 * time.Millisecond, jitter: 30 * time.Millisecond, dupRate: 0.01}, uint64(i+1), 4*time.Second)
				results[i] = r
				if r.snr < lv.minSINAD {
					t.Errorf("whole-call SINAD %.1f dB, want >= %.0f dB", r.snr, lv.minSINAD)
				}
				if r.gaps > lv.maxGaps+4*r.skips {
					t.Errorf("%d blocks of 10 ms near silence mid-tone, want <= %d (concealment, not gaps)", r.gaps, lv.maxGaps)
				}
				if r.lossPct < lv.loss*100/3 || r.lossPct > lv.loss*100*2+1 {
					t.Errorf("measured loss %.1f%%, want about %.0f%%", r.lossPct, lv.loss*100)
				}
			})
		}
	})
	for _, r := range results {
		if r.snr == 0 { // a level did not run (-run picked some)
			return
		}
	}
	for i := 1; i < len(results); i++ {
		if results[i].mos >= results[i-1].mos {
			t.Errorf("MOS at %.0f%% loss %.2f, want below %.2f at %.0f%%", levels[i].loss*100, results[i].mos, results[i-1].mos, levels[i-1].loss*100)
		}
	}
	if results[0].mos < 3.8 || results[len(results)-1].mos > 3.0 {
		t.Errorf("MOS %.2f at 1%% and %.2f at 20%%, want >= 3.8 and <= 3.0", results[0].mos, results[len(results)-1].mos)
	}
}
