package callmgr

import (
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sentTx is a server transaction that only records what is sent on it: respond2xx uses nothing
// else.
type sentTx struct {
	sip.ServerTransaction
	mu   sync.Mutex
	sent []time.Time
}

func (t *sentTx) Respond(*sip.Response) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent = append(t.sent, time.Now())
	return nil
}

func (t *sentTx) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sent)
}

// TestRespond2xx: the 2xx to a re-INVITE is retransmitted at T1, 2T1, … until the ACK comes, and
// the retransmissions stop at once when the manager shuts down (they used to outlive it by up to
// 64×T1).
func TestRespond2xx(t *testing.T) {
	t.Parallel()
	res := &sip.Response{}

	t.Run("until the ACK", func(t *testing.T) {
		t.Parallel()
		tx, acked := &sentTx{}, make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- respond2xx(tx, res, acked, nil) }()
		// The response, then a retransmission T1 later; the ACK comes before the next (2×T1).
		for end := time.Now().Add(5 * time.Second); tx.count() < 2; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("sent %d times in 5 s, want a retransmission after T1", tx.count())
			}
		}
		close(acked)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		tx.mu.Lock()
		defer tx.mu.Unlock()
		if len(tx.sent) != 2 {
			t.Errorf("sent %d times, want 2", len(tx.sent))
		} else if gap := tx.sent[1].Sub(tx.sent[0]); gap < sip.T1 {
			t.Errorf("retransmitted after %v, want T1 (%v)", gap, sip.T1)
		}
	})

	t.Run("until shutdown", func(t *testing.T) {
		t.Parallel()
		tx, stop := &sentTx{}, make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- respond2xx(tx, res, make(chan struct{}), stop) }()
		time.Sleep(sip.T1 / 2)
		close(stop)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("after shutdown: %v, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("respond2xx still retransmitting after shutdown")
		}
		if n := tx.count(); n != 1 {
			t.Errorf("sent %d times, want 1", n)
		}
	})
}
