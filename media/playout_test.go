package media_test

import (
	"fmt"
	"math"
	"testing"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

// playoutRun plays seconds of a tone at rate through a playout stage, one 20 ms frame per tick,
// as the session does: frames listed in lost are concealed instead of pushed, and every
// adjustEvery ticks the stage accelerates (odd adjustments) or expands (even ones) until it has
// moved by one frame. It returns the recording and how many samples were cut and added.
func playoutRun(t *testing.T, rate int, freq float64, seconds int, lost func(i int) bool, adjustEvery int) ([]int16, int, int) {
	t.Helper()
	frame := rate / 50
	src := audiotest.Tone(freq, 0.5, rate, seconds*rate+10*frame)
	p := media.NewPlayout(rate, rate)
	out := make([]int16, frame)
	var rec []int16
	next := 0
	pushNext := func() {
		if lost != nil && lost(next) {
			p.Conceal(frame)
		} else {
			p.Push(src[next*frame : (next+1)*frame])
		}
		next++
	}
	cut, added := 0, 0
	owe := 0 // samples still to cut (> 0) or add (< 0)
	for tick := range seconds * 50 {
		if adjustEvery > 0 && tick > 0 && tick%adjustEvery == 0 {
			if (tick/adjustEvery)%2 == 1 {
				owe = frame
			} else {
				owe = -frame
			}
		}
		for p.Len() < frame || (owe > 0 && p.Len() < frame+p.MaxPeriod()) {
			pushNext()
		}
		switch {
		case owe > 0:
			n := p.Accelerate(frame, false)
			cut += n
			owe = max(0, owe-n)
		case owe < 0:
			n := p.Expand(false)
			added += n
			owe = min(0, owe+n)
		}
		p.Pull(out)
		rec = append(rec, out...)
	}
	return rec, cut, added
}

// TestPlayoutChangesDelayCleanly: taking out and putting in a frame's worth of a tone every two
// seconds (a call on a clean link changes its delay once, a drifting clock every 20 s) leaves no
// click and keeps the tone clean: the old buffer dropped or repeated a raw frame, a click each time.
// Each change steps the tone's phase a little where its period is not a whole number of samples
// (1004 Hz at 8 kHz: 7.968 samples, and no multiple up to a frame close to whole samples: 60 steps
// of 0.025 rad), so the bar is the whole-call target of the narrowband codecs, 35 dB.
func TestPlayoutChangesDelayCleanly(t *testing.T) {
	t.Parallel()
	for _, rate := range []int{8000, 16000, 48000} {
		for _, freq := range []float64{1004, 440, 150} {
			t.Run(fmt.Sprintf("%d Hz at %d", int(freq), rate), func(t *testing.T) {
				t.Parallel()
				t.Logf("%d Hz at %d", int(freq), rate)
				rec, cut, added := playoutRun(t, rate, freq, 8, nil, 100)
				c, err := audiotest.MeasureCall(rec, rate, freq)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("cut %d, added %d samples: %v", cut, added, c)
				if cut < 2*rate/50 || added < rate/50 {
					t.Errorf("cut %d and added %d samples, want at least 2 and 1 frames", cut, added)
				}
				if c.SINADdB < 35 || c.Clicks > 0 || c.Gaps > 0 || c.PeakDBFS > audiotest.DBFS(0.5)+0.5 {
					t.Errorf("%v; want SINAD >= 35 dB, no clicks, no gaps, peak <= -5.5 dBFS", c)
				}
			})
		}
	}
}

// TestPlayoutConcealsLoss: with every twentieth frame lost (5 %), the tone goes on: no gap, no
// click, SINAD well above what a repeat-and-fade would give.
func TestPlayoutConcealsLoss(t *testing.T) {
	t.Parallel()
	for _, rate := range []int{8000, 16000} {
		for _, freq := range []float64{1004, 440, 150} {
			t.Run(fmt.Sprintf("%d Hz at %d", int(freq), rate), func(t *testing.T) {
				t.Parallel()
				lost := func(i int) bool { return i%20 == 7 }
				rec, _, _ := playoutRun(t, rate, freq, 8, lost, 0)
				c, err := audiotest.MeasureCall(rec, rate, freq)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%v", c)
				if c.SINADdB < 30 || c.Clicks > 0 || c.Gaps > 0 || math.IsNaN(c.SINADdB) {
					t.Errorf("%v; want SINAD >= 30 dB, no clicks, no gaps", c)
				}
			})
		}
	}
}
