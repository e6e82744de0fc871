package media_test

import (
	"slices"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	. "trayphone/media"
)

// recordStream keeps what is written to it and captures a constant.
type recordStream struct {
	got    []int16
	in     int16
	closed bool
}

func (r *recordStream) Read(p []int16) error {
	for i := range p {
		p[i] = r.in
	}
	return nil
}
func (r *recordStream) Write(p []int16) error { r.got = append(r.got, p...); return nil }
func (r *recordStream) Close() error          { r.closed = true; return nil }

func TestOverlay(t *testing.T) {
	t.Parallel()
	const rate, frame = 8000, 160
	rec := &recordStream{in: 7}
	ov := NewOverlay(rate, frame)
	st := ov.Wrap(rec)
	voice := audiotest.Tone(1000, 0.5, rate, frame*50) // 1 s of the far end
	write := func(from, to int) {
		for i := from; i < to; i++ {
			f := voice[i*frame : (i+1)*frame]
			keep := append([]int16(nil), f...)
			if err := st.Write(f); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f, keep) {
				t.Fatalf("frame %d: Write changed the caller's frame", i)
			}
		}
	}
	write(0, 10) // nothing laid over yet
	g, err := NewToneGenerator(ToneSpec{Freqs: []float64{425}}, rate)
	if err != nil {
		t.Fatal(err)
	}
	ov.Play(g, 0.5)
	if !ov.Playing() {
		t.Errorf("Playing after Play: got false")
	}
	write(10, 35)
	ov.Stop()
	write(35, 50)

	mic := make([]int16, frame)
	if err := st.Read(mic); err != nil || mic[0] != 7 {
		t.Errorf("Read: got %d, %v; want the wrapped stream's capture (7), unchanged", mic[0], err)
	}
	if len(rec.got) != len(voice) {
		t.Fatalf("got %d samples written, want %d", len(rec.got), len(voice))
	}
	seg := func(from, to int) []int16 { return rec.got[from*frame : to*frame] }
	// Before and after: the far end's audio exactly.
	for i, v := range append(append([]int16(nil), seg(0, 10)...), seg(35, 50)...) {
		want := voice[i]
		if i >= 10*frame {
			want = voice[i+25*frame]
		}
		if v != want {
			t.Fatalf("sample %d without overlay: got %d, want %d", i, v, want)
		}
	}
	// During: the far end's 1000 Hz and the 425 Hz tone at half its level (0.1 of full scale).
	during := seg(10, 35)
	if snr := audiotest.ToneSNR(during, rate, 1000); snr < 0 {
		t.Errorf("far end's 1000 Hz under the overlay: SNR %.1f dB, want it still dominant", snr)
	}
	diff := make([]int16, len(during))
	for i := range during {
		diff[i] = during[i] - voice[10*frame+i]
	}
	an := audiotest.Analyze(diff, rate)
	if d := an.DominantHz - 425; d > 5 || d < -5 {
		t.Errorf("what the overlay added: dominant %.1f Hz, want 425 Hz", an.DominantHz)
	}
	// A sine peaking at 0.1 of full scale (the tone's 0.2 × 0.5) is -23 dBFS RMS.
	if an.RMSdBFS < -24 || an.RMSdBFS > -22 {
		t.Errorf("what the overlay added: %.1f dBFS RMS, want -23 dBFS (the tone's level × 0.5)", an.RMSdBFS)
	}

	if err := st.Close(); err != nil || !rec.closed {
		t.Errorf("Close: got %v, closed %v; want the wrapped stream closed", err, rec.closed)
	}
}

// TestOverlaySourceEnds plays a source that ends: the audio then passes unchanged.
func TestOverlaySourceEnds(t *testing.T) {
	t.Parallel()
	const rate, frame = 8000, 160
	rec := &recordStream{}
	ov := NewOverlay(rate, frame)
	st := ov.Wrap(rec)
	g, _ := NewToneGenerator(ToneSpec{Freqs: []float64{425}}, rate)
	ov.Play(Limit(g, 30*time.Millisecond, rate), 1)
	f := make([]int16, frame)
	for range 3 {
		_ = st.Write(f)
	}
	if audiotest.RMSdBFS(rec.got[:frame]) < -30 {
		t.Errorf("first frame: got silence, want the tone")
	}
	for i, v := range rec.got[2*frame:] {
		if v != 0 {
			t.Fatalf("after the source ended: sample %d is %d, want 0", i, v)
		}
	}
}

// overlayPlaying returns a 48 kHz null stream wrapped by an overlay that plays the call-waiting
// tone, and a frame to write to it.
func overlayPlaying() (Stream, []int16) {
	const rate, frame = 48000, 960
	ov := NewOverlay(rate, frame)
	null, _ := NewNull().Open(rate, frame)
	g, _ := NewToneGenerator(Tone(RegionEU, ToneCallWaiting), rate)
	ov.Play(g, 0.5)
	return ov.Wrap(null), make([]int16, frame)
}

func TestOverlayWriteAllocs(t *testing.T) {
	st, f := overlayPlaying()
	if n := testing.AllocsPerRun(200, func() { _ = st.Write(f) }); n != 0 {
		t.Errorf("Write with the tone on: %v allocations per frame, want 0", n)
	}
}

func BenchmarkOverlayWrite(b *testing.B) {
	st, f := overlayPlaying()
	b.ReportAllocs()
	for b.Loop() {
		_ = st.Write(f)
	}
}
