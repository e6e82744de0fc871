package assets

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
)

// BadgeColor is the fill of the message badge.
var BadgeColor = color.NRGBA{R: 0xd9, G: 0x1e, B: 0x18, A: 0xff}

// Badged returns the PNG icon with a message badge: a red dot with a white rim in its top right
// corner (a quarter of the icon across), the tray's sign that voice messages wait. It returns
// icon unchanged when it is not a PNG.
func Badged(icon []byte) []byte {
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return icon
	}
	b := src.Bounds()
	img := image.NewNRGBA(b)
	draw.Draw(img, b, src, b.Min, draw.Src)
	size := min(b.Dx(), b.Dy())
	r := float64(size) * 0.22
	cx, cy := float64(b.Max.X)-r-0.5, float64(b.Min.Y)+r+0.5
	rim := r - max(1, float64(size)/32)
	white := color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			d2 := dx*dx + dy*dy
			switch {
			case d2 <= rim*rim:
				img.SetNRGBA(x, y, BadgeColor)
			case d2 <= r*r:
				img.SetNRGBA(x, y, white)
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return icon
	}
	return out.Bytes()
}
