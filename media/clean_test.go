package media_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

// rateTone is a microphone playing a sine at any sample rate, and a speaker recording what it is
// given.
type rateTone struct {
	rate        int
	freq, amp   float64
	phase       float64
	mu          sync.Mutex
	played      []int16
	onePerWrite bool
}

func (s *rateTone) Read(p []int16) error {
	for i := range p {
		p[i] = int16(math.Round(s.amp * 32767 * math.Sin(s.phase)))
		s.phase = math.Mod(s.phase+2*math.Pi*s.freq/float64(s.rate), 2*math.Pi)
	}
	return nil
}

func (s *rateTone) Write(p []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.played = append(s.played, p...)
	return nil
}

func (s *rateTone) Close() error { return nil }

func (s *rateTone) recording() []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int16(nil), s.played...)
}

// wholeCallTargets are the SINAD a call must keep over its whole length, per codec. The tones are
// 1004 Hz (ITU-T O.132's test tone: a 1000 Hz tone at 8 kHz hits the same eight sample phases
// again and again, and G.711 alone measures 34 dB on it instead of its 37-39 dB) and 440 Hz.
var wholeCallTargets = []struct {
	codec    media.Codec
	freq     float64
	minSINAD float64
}{
	{media.PCMU, 1004, 35},
	{media.PCMA, 440, 35},
	{media.G722, 1004, 35},
	{media.Opus, 1004, 30},
}

// TestCleanLinkWholeCall sends a tone from one session to another on loopback (a perfect link)
// and judges the received audio over the whole call as a listener would: SINAD over everything
// from the first to the last 200 ms, no click anywhere, and no sample above the level sent + 1 dB
// from the first packet on.
func TestCleanLinkWholeCall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real-time sessions for six seconds")
	}
	t.Parallel()
	for _, tt := range wholeCallTargets {
		t.Run(tt.codec.Name, func(t *testing.T) {
			t.Parallel()
			const amp = 0.5
			aConn, bConn := listenLoop(t), listenLoop(t)
			src := &rateTone{rate: tt.codec.SampleRate, freq: tt.freq, amp: amp}
			sink := &rateTone{rate: tt.codec.SampleRate}
			a, err := media.NewSession(media.SessionConfig{Conn: aConn, Remote: addrOf(bConn), Codec: tt.codec, Stream: src, Direction: media.SendOnly})
			if err != nil {
				t.Fatal(err)
			}
			b, err := media.NewSession(media.SessionConfig{Conn: bConn, Remote: addrOf(aConn), Codec: tt.codec, Stream: sink, Direction: media.RecvOnly})
			if err != nil {
				t.Fatal(err)
			}
			b.Start()
			a.Start()
			time.Sleep(6 * time.Second)
			a.Close()
			time.Sleep(200 * time.Millisecond)
			b.Close()
			c, err := audiotest.MeasureCall(sink.recording(), tt.codec.SampleRate, tt.freq)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %v", tt.codec.Name, c)
			if c.SINADdB < tt.minSINAD || c.Clicks > 0 || c.Gaps > 0 {
				t.Errorf("%s: SINAD %.1f dB, %d clicks, %d gaps; want >= %.0f dB, none, none", tt.codec.Name, c.SINADdB, c.Clicks, c.Gaps, tt.minSINAD)
			}
			if max := audiotest.DBFS(amp) + 1; c.PeakDBFS > max {
				t.Errorf("%s: peak %.1f dBFS at %s, want <= %.1f (sent level + 1 dB)", tt.codec.Name, c.PeakDBFS, c.PeakAt, max)
			}
		})
	}
}
