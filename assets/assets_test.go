package assets

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"testing"
)

func TestAllIcons(t *testing.T) {
	t.Parallel()
	for s := IconUnknown; s <= IconError; s++ {
		for _, n := range Sizes {
			img, err := png.Decode(bytes.NewReader(Icon(s, n)))
			if err != nil {
				t.Fatalf("Icon(%v, %d): %v", s, n, err)
			}
			if got := img.Bounds().Dx(); got != n {
				t.Errorf("Icon(%v, %d) width: got %d, want %d", s, n, got, n)
			}
			// The centre of the disc is opaque; the corner is transparent.
			if _, _, _, a := img.At(n/2-n/5, n/2).RGBA(); a != 0xffff {
				t.Errorf("Icon(%v, %d): disc not opaque near centre (alpha %d)", s, n, a)
			}
			if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
				t.Errorf("Icon(%v, %d): corner not transparent (alpha %d)", s, n, a)
			}
		}
		ico := IconICO(s)
		if got := binary.LittleEndian.Uint16(ico[4:]); got != 4 {
			t.Errorf("IconICO(%v): got %d images, want 4", s, got)
		}
	}
}

func TestIconSizeRounding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ask, want int }{{1, 16}, {16, 16}, {20, 22}, {48, 64}, {128, 64}} {
		img, err := png.Decode(bytes.NewReader(Icon(IconIdle, tc.ask)))
		if err != nil {
			t.Fatal(err)
		}
		if got := img.Bounds().Dx(); got != tc.want {
			t.Errorf("Icon(idle, %d): got %d px, want %d", tc.ask, got, tc.want)
		}
	}
}

func TestRingtone(t *testing.T) {
	t.Parallel()
	w := Ringtone()
	if string(w[0:4]) != "RIFF" || string(w[8:16]) != "WAVEfmt " {
		t.Fatalf("ringtone: not a RIFF/WAVE file")
	}
	le := binary.LittleEndian
	if ch, rate, bits := le.Uint16(w[22:]), le.Uint32(w[24:]), le.Uint16(w[34:]); ch != 1 || rate != 8000 || bits != 16 {
		t.Errorf("ringtone format: got %d ch %d Hz %d bit, want 1 ch 8000 Hz 16 bit", ch, rate, bits)
	}
	if got, want := le.Uint32(w[40:]), uint32(2*8000*2); got != want {
		t.Errorf("ringtone data: got %d bytes, want %d (2 s)", got, want)
	}
	// Loud during the first burst, silent in the gap.
	peak := func(from, to float64) int {
		m := 0
		for i := int(from * 8000); i < int(to*8000); i++ {
			v := int(int16(le.Uint16(w[44+2*i:])))
			m = max(m, v, -v)
		}
		return m
	}
	if p := peak(0.1, 0.3); p < 10000 {
		t.Errorf("ringtone burst peak: got %d, want ≥ 10000", p)
	}
	if p := peak(0.45, 0.55); p != 0 {
		t.Errorf("ringtone gap peak: got %d, want 0", p)
	}
}
