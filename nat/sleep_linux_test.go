package nat

import (
	"context"
	"testing"
	"time"

	"trayphone/internal/siptest/dbustest"
)

// TestLogindSleeper: against a private bus standing for the system bus, with a fake logind that
// emits PrepareForSleep, the feed reports the wake-up (false) and not the going to sleep (true);
// without logind on the bus it refuses, so the clock jump takes over.
func TestLogindSleeper(t *testing.T) {
	bus := dbustest.StartBus(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", bus)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := openOSSleeper(ctx); err == nil {
		t.Fatal("opened without logind on the bus")
	}
	fake := dbustest.Connect(t, bus)
	if _, err := fake.RequestName(logindName, 0); err != nil {
		t.Fatal(err)
	}
	s, err := openOSSleeper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	// Returns when s is closed below.
	go func() {
		for {
			w, err := s.Next()
			if err != nil {
				close(got)
				return
			}
			got <- w
		}
	}()
	// A stranger's signal of the same name is not logind's.
	other := dbustest.Connect(t, bus)
	if err := other.Emit(logindPath, logindSignal, false); err != nil {
		t.Fatal(err)
	}
	for _, v := range []bool{true, false} {
		if err := fake.Emit(logindPath, logindSignal, v); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case w := <-got:
		if w != "logind: resumed from sleep" {
			t.Errorf("got %q", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up reported")
	}
	select {
	case w := <-got:
		t.Errorf("a second report %q (the stranger's or the going to sleep)", w)
	case <-time.After(200 * time.Millisecond):
	}
	s.Close()
	if _, ok := <-got; ok {
		t.Error("Next returned a wake-up after Close")
	}
}
