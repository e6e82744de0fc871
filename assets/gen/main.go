// Command gen draws trayphone's tray icons and its ringtone and writes them under assets/.
//
//	go run ./assets/gen            # from the module root
//
// Icons are a filled disc in the state colour with a white handset glyph, rendered with 8×8
// supersampling so that every size (16, 22, 24, 32, 64 px) is drawn natively rather than scaled.
// The macOS app icon, icons/trayphone.icns (scripts/build_macos.sh), is the idle icon drawn at
// 512 px, which the ICNS encoder scales down to the smaller sizes it holds; it is not embedded.
// The ringtone is a classic two-tone ring: 400 Hz + 450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, then 1 s of
// silence, 8 kHz mono 16-bit PCM.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/jackmordaunt/icns/v3"
)

var sizes = []int{16, 22, 24, 32, 64}

// icoSizes are the sizes packed into each .ico (PNG-compressed entries, Windows Vista and later).
var icoSizes = []int{16, 24, 32, 64}

type style struct {
	name  string
	disc  color.NRGBA
	waves bool // amber "pulse" arcs for ringing
	slash bool // red slash for do-not-disturb
	cross bool // small red badge for error
}

var styles = []style{
	{name: "offline", disc: color.NRGBA{0x75, 0x75, 0x75, 0xff}},
	{name: "idle", disc: color.NRGBA{0x2e, 0x7d, 0x32, 0xff}},
	{name: "ringing", disc: color.NRGBA{0xf5, 0x9e, 0x0b, 0xff}, waves: true},
	{name: "incall", disc: color.NRGBA{0x15, 0x65, 0xc0, 0xff}},
	{name: "dnd", disc: color.NRGBA{0x75, 0x75, 0x75, 0xff}, slash: true},
	{name: "error", disc: color.NRGBA{0xc6, 0x28, 0x28, 0xff}, cross: true},
}

func main() {
	out := flag.String("out", "assets", "assets directory to write icons/ and sounds/ into")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

func run(out string) error {
	iconDir := filepath.Join(out, "icons")
	soundDir := filepath.Join(out, "sounds")
	for _, d := range []string{iconDir, soundDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, s := range styles {
		pngs := map[int][]byte{}
		for _, n := range sizes {
			b, err := encodePNG(draw(s, n))
			if err != nil {
				return err
			}
			pngs[n] = b
			if err := os.WriteFile(filepath.Join(iconDir, fmt.Sprintf("%s-%d.png", s.name, n)), b, 0o644); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(iconDir, s.name+".ico"), ico(pngs), 0o644); err != nil {
			return err
		}
	}
	var appIcon bytes.Buffer
	if err := icns.Encode(&appIcon, draw(styles[1], 512)); err != nil {
		return fmt.Errorf("app icon: %w", err)
	}
	if err := os.WriteFile(filepath.Join(iconDir, "trayphone.icns"), appIcon.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(soundDir, "ring.wav"), ringWAV(), 0o644)
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// layer is one shape: inside reports coverage of a point in the unit square [0,1]².
type layer struct {
	c      color.NRGBA
	inside func(x, y float64) bool
}

func draw(s style, n int) *image.NRGBA {
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	red := color.NRGBA{0xd3, 0x2f, 0x2f, 0xff}
	// At tiny sizes the disc fills the square; at 64 px leave a 1 px margin.
	r := 0.5 - 0.5/float64(n)
	layers := []layer{{s.disc, circle(0.5, 0.5, r)}}
	scale, cx, cy := 0.6, 0.5, 0.5
	if s.waves {
		scale, cx, cy = 0.5, 0.45, 0.55
	}
	layers = append(layers, layer{white, handset(cx, cy, scale)})
	if s.waves {
		layers = append(layers,
			layer{white, arc(0.5, 0.5, 0.26, 0.04, -math.Pi/2+0.35, -0.35)},
			layer{white, arc(0.5, 0.5, 0.37, 0.04, -math.Pi/2+0.3, -0.3)})
	}
	if s.slash {
		layers = append(layers,
			layer{s.disc, capsule(0.25, 0.25, 0.75, 0.75, 0.1)},
			layer{red, capsule(0.25, 0.25, 0.75, 0.75, 0.06)})
	}
	if s.cross {
		layers = append(layers,
			layer{white, circle(0.76, 0.24, 0.2)},
			layer{red, capsule(0.76, 0.14, 0.76, 0.25, 0.035)},
			layer{red, circle(0.76, 0.33, 0.035)})
	}
	return raster(n, layers)
}

// raster renders the layers with ss×ss samples per pixel, compositing in order ("over").
func raster(n int, layers []layer) *image.NRGBA {
	const ss = 8
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for py := 0; py < n; py++ {
		for px := 0; px < n; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(n)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(n)
					var cr, cg, cb, ca float64
					for _, l := range layers {
						if l.inside(x, y) {
							cr, cg, cb, ca = float64(l.c.R), float64(l.c.G), float64(l.c.B), 1
						}
					}
					r, g, b, a = r+cr*ca, g+cg*ca, b+cb*ca, a+ca
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a)), G: uint8(math.Round(g / a)), B: uint8(math.Round(b / a)),
				A: uint8(math.Round(255 * a / (ss * ss))),
			})
		}
	}
	return img
}

func circle(cx, cy, r float64) func(x, y float64) bool {
	return func(x, y float64) bool { return math.Hypot(x-cx, y-cy) <= r }
}

// capsule is a segment (x0,y0)–(x1,y1) with round caps of radius w.
func capsule(x0, y0, x1, y1, w float64) func(x, y float64) bool {
	return func(x, y float64) bool { return segDist(x, y, x0, y0, x1, y1) <= w }
}

func segDist(x, y, x0, y0, x1, y1 float64) float64 {
	dx, dy := x1-x0, y1-y0
	t := ((x-x0)*dx + (y-y0)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-(x0+t*dx), y-(y0+t*dy))
}

// arc is a stroke of half-width w along the circle (cx,cy,r) between angles a0 and a1 (radians,
// y down), with round caps.
func arc(cx, cy, r, w, a0, a1 float64) func(x, y float64) bool {
	e0x, e0y := cx+r*math.Cos(a0), cy+r*math.Sin(a0)
	e1x, e1y := cx+r*math.Cos(a1), cy+r*math.Sin(a1)
	return func(x, y float64) bool {
		a := math.Atan2(y-cy, x-cx)
		if a >= a0 && a <= a1 {
			return math.Abs(math.Hypot(x-cx, y-cy)-r) <= w
		}
		return math.Hypot(x-e0x, y-e0y) <= w || math.Hypot(x-e1x, y-e1y) <= w
	}
}

// handset is the classic telephone receiver: a bowed grip with a thick earpiece at the top left and
// a thick mouthpiece at the bottom right, centred on (cx,cy) and s wide.
func handset(cx, cy, s float64) func(x, y float64) bool {
	// Glyph space is [-0.5,0.5]², y down. The grip bows towards the lower left.
	grip := arc(0.42, -0.42, 0.72, 0.085, math.Pi/2+0.12, math.Pi-0.12)
	ear := capsule(-0.30, -0.44, -0.30, -0.12, 0.15)
	mouth := capsule(0.12, 0.30, 0.44, 0.30, 0.15)
	return func(x, y float64) bool {
		gx, gy := (x-cx)/s, (y-cy)/s
		return grip(gx, gy) || ear(gx, gy) || mouth(gx, gy)
	}
}

// ico packs PNG images into an ICO container (ICONDIR + ICONDIRENTRY per image; PNG payloads).
func ico(pngs map[int][]byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&b, le, [3]uint16{0, 1, uint16(len(icoSizes))})
	offset := 6 + 16*len(icoSizes)
	for _, n := range icoSizes {
		dim := uint8(n)
		if n >= 256 {
			dim = 0
		}
		_ = binary.Write(&b, le, struct {
			W, H, Colors, Reserved uint8
			Planes, BPP            uint16
			Size, Offset           uint32
		}{dim, dim, 0, 0, 1, 32, uint32(len(pngs[n])), uint32(offset)})
		offset += len(pngs[n])
	}
	for _, n := range icoSizes {
		b.Write(pngs[n])
	}
	return b.Bytes()
}

// ringWAV returns the ringtone as a RIFF/WAVE file: 8 kHz, mono, 16-bit PCM, 2 s.
func ringWAV() []byte {
	const rate = 8000
	on := func(t float64) bool { return t < 0.4 || (t >= 0.6 && t < 1.0) }
	samples := make([]int16, 2*rate)
	for i := range samples {
		t := float64(i) / rate
		if !on(t) {
			continue
		}
		// 5 ms raised-cosine ramps at each burst edge avoid clicks.
		local := math.Mod(t, 0.6)
		env := 1.0
		const ramp = 0.005
		if local < ramp {
			env = 0.5 - 0.5*math.Cos(math.Pi*local/ramp)
		} else if local > 0.4-ramp {
			env = 0.5 - 0.5*math.Cos(math.Pi*(0.4-local)/ramp)
		}
		v := 0.35 * env * (math.Sin(2*math.Pi*400*t) + math.Sin(2*math.Pi*450*t))
		samples[i] = int16(math.Round(v * 32767))
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	data := len(samples) * 2
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+data))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, struct {
		Size                  uint32
		Format, Channels      uint16
		Rate, ByteRate        uint32
		BlockAlign, BitsDepth uint16
	}{16, 1, 1, rate, rate * 2, 2, 16})
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(data))
	_ = binary.Write(&b, le, samples)
	return b.Bytes()
}
