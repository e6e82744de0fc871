package nat

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"trayphone/internal/clock"
)

type fakeGateway struct {
	mu    sync.Mutex
	calls []string
	fail  bool
	grant time.Duration
}

func (g *fakeGateway) Name() string { return "fake" }
func (g *fakeGateway) Map(proto string, in, ext int, life time.Duration) (int, time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "map")
	if g.fail {
		return 0, 0, errors.New("refused")
	}
	return ext + 1000, g.grant, nil
}
func (g *fakeGateway) Unmap(proto string, in int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "unmap")
	return nil
}
func (g *fakeGateway) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.calls) }

// TestPortMapRenewal: map at start, renew at half the granted lifetime, retry a minute after a
// failure, unmap on quit.
func TestPortMapRenewal(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	gw := &fakeGateway{grant: time.Hour}
	m := NewPortMap(gw, "udp", 5060, clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Serve(ctx) }()
	waitCalls := func(n int) {
		t.Helper()
		for i := 0; gw.count() < n || clk.Timers() < 1; i++ {
			if i > 5000 {
				t.Fatalf("gateway calls: got %d, want %d", gw.count(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitTimers(t, clk, 1)
	clk.Advance(0)
	waitCalls(1)
	if m.External() != 6060 {
		t.Errorf("external: got %d, want 6060", m.External())
	}
	clk.Advance(29 * time.Minute) // before half the lifetime: no renewal
	if gw.count() != 1 {
		t.Errorf("calls before renewal: got %d, want 1", gw.count())
	}
	gw.mu.Lock()
	gw.fail = true
	gw.mu.Unlock()
	clk.Advance(time.Minute) // 30 min: renewal, refused
	waitCalls(2)
	for m.External() != 0 {
		time.Sleep(time.Millisecond)
	}
	gw.mu.Lock()
	gw.fail = false
	gw.mu.Unlock()
	clk.Advance(time.Minute) // retried after a minute
	waitCalls(3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := gw.calls; len(got) != 4 || got[3] != "unmap" {
		t.Errorf("calls: got %v, want map, map, map, unmap", got)
	}
}
