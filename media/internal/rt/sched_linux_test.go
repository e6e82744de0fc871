package rt

import (
	"errors"
	"syscall"
	"testing"
)

// TestRealtimeRefused checks the bookkeeping when the system says no: every user gets the
// reason, nothing is left half switched, and nothing is undone that was not done.
func TestRealtimeRefused(t *testing.T) {
	t.Parallel()
	var calls []int
	r := &rtState{
		getPolicy: func(int) (int, error) { return SchedOther, nil },
		setPolicy: func(tid, policy, prio int) error {
			calls = append(calls, policy)
			if policy != SchedOther {
				return syscall.EPERM
			}
			return nil
		},
	}
	if err := r.acquire(); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("first acquire: %v", err)
	}
	if err := r.acquire(); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("second acquire: %v", err)
	}
	// One refused attempt, then every thread set back to SCHED_OTHER (nothing else was touched).
	if len(calls) < 2 || calls[0] != SchedRR|schedResetOnFork {
		t.Fatalf("policy calls %v", calls)
	}
	for _, p := range calls[1:] {
		if p != SchedOther {
			t.Fatalf("policy calls %v: after the refusal only SCHED_OTHER", calls)
		}
	}
	n := len(calls)
	r.release()
	r.release()
	r.release() // one too many does nothing
	if len(calls) != n || r.users != 0 {
		t.Fatalf("release after a refusal changed policies (%v) or users (%d)", calls[n:], r.users)
	}
}
