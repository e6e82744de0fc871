package bench

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestProcHelpers(t *testing.T) {
	t.Parallel()
	if m, err := RSS(os.Getpid()); err != nil || m.RSS <= 0 || m.Anon <= 0 || m.Anon > m.RSS || m.HWM < m.RSS {
		t.Fatalf("RSS: got %+v, %v", m, err)
	}
	// This process burns 20 ms of CPU: ThreadStats must see at least that much more.
	cpu0, sw0, err := ThreadStats(os.Getpid())
	if err != nil || cpu0 <= 0 {
		t.Fatalf("ThreadStats: got %v, %v", cpu0, err)
	}
	for t0 := time.Now(); time.Since(t0) < 20*time.Millisecond; {
	}
	time.Sleep(5 * time.Millisecond) // and switches out at least once
	cpu1, sw1, _ := ThreadStats(os.Getpid())
	if cpu1-cpu0 < 15*time.Millisecond || sw1 <= sw0 {
		t.Errorf("ThreadStats after 20 ms busy + a sleep: cpu +%v, switches +%d", cpu1-cpu0, sw1-sw0)
	}
	if m := Median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("median of 5 1 3: got %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 1 3 2: got %v", m)
	}
	p50, p99, mx := Percentiles([]float64{3, 1, 2, 4, 100})
	if p50 != 3 || p99 != 100 || mx != 100 {
		t.Errorf("percentiles: got %v %v %v", p50, p99, mx)
	}
	j := SendJitter([]float64{0, 0.020, 0.0405, 0.060}, 20*time.Millisecond)
	if len(j) != 3 || math.Abs(j[1]-0.5) > 1e-9 || math.Abs(j[2]-0.5) > 1e-9 {
		t.Errorf("send jitter: got %v", j)
	}
}
