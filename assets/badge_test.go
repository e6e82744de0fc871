package assets

import (
	"bytes"
	"image/color"
	"image/png"
	"testing"
)

// TestBadged checks that the badge is a red dot in the top right corner and that the rest of the
// icon is untouched, at every drawn size.
func TestBadged(t *testing.T) {
	t.Parallel()
	for _, size := range Sizes {
		plain := Icon(IconIdle, size)
		a, err := png.Decode(bytes.NewReader(plain))
		if err != nil {
			t.Fatal(err)
		}
		b, err := png.Decode(bytes.NewReader(Badged(plain)))
		if err != nil {
			t.Fatalf("%d px: the badged icon is not a PNG: %v", size, err)
		}
		if b.Bounds() != a.Bounds() {
			t.Fatalf("%d px: bounds %v, want %v", size, b.Bounds(), a.Bounds())
		}
		r := float64(size) * 0.22
		cx, cy := int(float64(size)-r-0.5), int(r+0.5)
		if got := color.NRGBAModel.Convert(b.At(cx, cy)).(color.NRGBA); got != BadgeColor {
			t.Errorf("%d px: badge centre (%d,%d) is %v, want %v", size, cx, cy, got, BadgeColor)
		}
		same := func(x, y int) bool {
			return color.NRGBAModel.Convert(a.At(x, y)) == color.NRGBAModel.Convert(b.At(x, y))
		}
		for _, p := range [][2]int{{0, size - 1}, {size / 2, size - 1}, {0, size / 2}, {size / 3, size / 2}} {
			if !same(p[0], p[1]) {
				t.Errorf("%d px: pixel %v changed outside the badge", size, p)
			}
		}
	}
	if got := Badged([]byte("not a png")); string(got) != "not a png" {
		t.Errorf("a non-PNG came back changed: %q", got)
	}
}
