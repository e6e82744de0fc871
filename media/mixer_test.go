package media

import (
	"fmt"
	"testing"
)

func TestMixMinusOne(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ins  [][]int16
		want [][]int16
	}{
		{"one participant hears nothing", [][]int16{{5, -5}}, [][]int16{{0, 0}}},
		{"two hear each other", [][]int16{{1, 2}, {10, 20}}, [][]int16{{10, 20}, {1, 2}}},
		{"three", [][]int16{{1, 0}, {10, 0}, {100, -7}}, [][]int16{{110, -7}, {101, -7}, {11, 0}}},
		{"saturates high and low", [][]int16{{30000, -30000}, {30000, -30000}, {30000, -30000}},
			[][]int16{{32767, -32768}, {32767, -32768}, {32767, -32768}}},
		{"no wrap-around", [][]int16{{0, 0}, {32767, -32768}, {32767, -32768}}, [][]int16{{32767, -32768}, {32767, -32768}, {32767, -32768}}},
	}
	for _, tt := range tests {
		outs := make([][]int16, len(tt.ins))
		for i := range outs {
			outs[i] = make([]int16, len(tt.ins[i]))
		}
		MixMinusOne(outs, tt.ins, make([]int32, len(tt.ins[0])))
		if fmt.Sprint(outs) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, outs, tt.want)
		}
	}
}

func TestMixerPorts(t *testing.T) {
	t.Parallel()
	m := NewMixer(2)
	closed := 0
	a, b, c := m.Join(nil), m.Join(nil), m.Join(func() { closed++ })
	a.Write([]int16{1, 1})
	b.Write([]int16{10, 10})
	c.Write([]int16{100, 100})
	got := make([]int16, 2)
	for _, tt := range []struct {
		p    *Port
		want int16
	}{{a, 110}, {b, 101}, {c, 11}} {
		tt.p.Read(got)
		if got[0] != tt.want {
			t.Errorf("got %v, want %d", got, tt.want)
		}
	}
	c.Close()
	c.Close()
	if closed != 1 || m.Ports() != 2 {
		t.Errorf("after close: onClose ran %d times, %d ports; want 1 and 2", closed, m.Ports())
	}
	a.Read(got)
	if got[0] != 10 {
		t.Errorf("a after c left: got %v, want 10", got)
	}
	if err := c.Write(got); err == nil {
		t.Errorf("write on a closed port: got nil error")
	}
	// b stops writing (on hold): after a few frames a stops hearing its last frame.
	for range staleReads {
		b.Read(got)
		a.Write([]int16{1, 1})
		a.Read(got)
	}
	if got[0] != 0 {
		t.Errorf("a hears a participant that stopped writing: got %v, want silence", got)
	}
}

func TestMixerAllocs(t *testing.T) {
	m := NewMixer(160)
	ports := make([]*Port, 4)
	for i := range ports {
		ports[i] = m.Join(nil)
	}
	f := make([]int16, 160)
	if a := testing.AllocsPerRun(100, func() {
		for _, p := range ports {
			p.Write(f)
			p.Read(f)
		}
	}); a != 0 {
		t.Errorf("got %v allocs per frame, want 0", a)
	}
}

// BenchmarkMix is one mix-minus round of 20 ms frames at 8 kHz and 48 kHz for 1 and 18
// channels, as shtoom's mixing table measured (its 18 channels was where Python ran out).
func BenchmarkMix(b *testing.B) {
	for _, rate := range []int{8000, 48000} {
		for _, n := range []int{1, 18} {
			b.Run(fmt.Sprintf("%dch-%dk", n, rate/1000), func(b *testing.B) {
				frame := rate / 50
				ins, outs := make([][]int16, n), make([][]int16, n)
				for i := range ins {
					ins[i], outs[i] = make([]int16, frame), make([]int16, frame)
					for k := range ins[i] {
						ins[i][k] = int16(k * (i + 1))
					}
				}
				sum := make([]int32, frame)
				b.ReportAllocs()
				for b.Loop() {
					MixMinusOne(outs, ins, sum)
				}
			})
		}
	}
}

// BenchmarkMixerPorts is a round through the Mixer's ports (locking included): every port
// writes a frame and reads its mix, 8 kHz.
func BenchmarkMixerPorts(b *testing.B) {
	for _, n := range []int{1, 18} {
		b.Run(fmt.Sprintf("%dch", n), func(b *testing.B) {
			m := NewMixer(160)
			ports := make([]*Port, n)
			for i := range ports {
				ports[i] = m.Join(nil)
			}
			f := make([]int16, 160)
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range ports {
					p.Write(f)
				}
				for _, p := range ports {
					p.Read(f)
				}
			}
		})
	}
}
