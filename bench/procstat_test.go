//go:build linux

package bench

import (
	"math"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestProcHelpers(t *testing.T) {
	t.Parallel()
	if m, err := RSS(os.Getpid()); err != nil || m.RSS <= 0 || m.Anon <= 0 || m.Anon > m.RSS || m.HWM < m.RSS {
		t.Fatalf("RSS: got %+v, %v", m, err)
	}
	// This process burns 20 ms of CPU, by the kernel's own rusage count (a wall-clock busy loop
	// gets less on a loaded machine): ThreadStats must see about that much more.
	cpu0, sw0, err := ThreadStats(os.Getpid())
	if err != nil || cpu0 <= 0 {
		t.Fatalf("ThreadStats: got %v, %v", cpu0, err)
	}
	for r0 := processCPU(t); processCPU(t)-r0 < 20*time.Millisecond; {
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
	// Two streams, 20 ms apart, each with one packet 2 ms late: a at 0.100, b at 0.1005 (together)
	// and b again at 0.300 (alone). Each late packet makes two deviating intervals.
	a := []float64{0, 0.020, 0.040, 0.060, 0.080, 0.102, 0.120, 0.140}
	b := []float64{0.0005, 0.0205, 0.0405, 0.0605, 0.0805, 0.1025, 0.1205, 0.1405, 0.1605, 0.1805, 0.2005, 0.2205, 0.2405, 0.2605, 0.2805, 0.3025, 0.3205}
	if late, both := Together(a, b, 20*time.Millisecond, 500*time.Microsecond, 10*time.Millisecond); late != 2 || both != 2 {
		t.Errorf("Together(a, b): %d late, %d together; want 2, 2", late, both)
	}
	if late, both := Together(b, a, 20*time.Millisecond, 500*time.Microsecond, 10*time.Millisecond); late != 4 || both != 2 {
		t.Errorf("Together(b, a): %d late, %d together; want 4, 2", late, both)
	}
	if late, both := Together(b, nil, 20*time.Millisecond, 500*time.Microsecond, 10*time.Millisecond); late != 4 || both != 0 {
		t.Errorf("Together(b, nil): %d late, %d together; want 4, 0", late, both)
	}
}

// processCPU is the user and system time the whole process has used, from getrusage.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
