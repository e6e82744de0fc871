package bench

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestProcHelpers(t *testing.T) {
	t.Parallel()
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if rss, hwm, err := RSS(os.Getpid()); err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("RSS: got %d, %d, %v", rss, hwm, err)
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
