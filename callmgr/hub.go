package callmgr

import (
	"sync"

	"trayphone/internal/phone"
)

// subscriberBuffer is how many events a slow subscriber may fall behind before the oldest are
// dropped. Events carry full snapshots, so dropping old ones loses no state.
const subscriberBuffer = 64

// hub fans events out to subscribers without ever blocking the publisher.
type hub struct {
	mu   sync.Mutex
	subs map[chan phone.Event]struct{}
}

func (h *hub) subscribe() (<-chan phone.Event, func()) {
	ch := make(chan phone.Event, subscriberBuffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[chan phone.Event]struct{})
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			if _, ok := h.subs[ch]; ok {
				delete(h.subs, ch)
				close(ch)
			}
			h.mu.Unlock()
		})
	}
}

// publish delivers ev to every subscriber; a full subscriber loses its oldest event.
func (h *hub) publish(ev phone.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		deliver(ch, ev)
	}
}

// publishTo delivers ev to the one subscription ch (from subscribe), if it is still open.
func (h *hub) publishTo(ch <-chan phone.Event, ev phone.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		if c == ch {
			deliver(c, ev)
		}
	}
}

// deliver sends ev on ch, dropping the oldest queued event when ch is full. h.mu is held.
func deliver(ch chan phone.Event, ev phone.Event) {
	for {
		select {
		case ch <- ev:
			return
		default:
			select {
			case <-ch: // drop the oldest and try again
			default:
			}
		}
	}
}

// closeAll ends every subscription (the core is stopping).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// queue is the manager's unbounded work queue: posting never blocks, so sipgo callbacks that run
// inside a manager call cannot deadlock it.
type queue struct {
	mu     sync.Mutex
	items  []func()
	notify chan struct{}
}

func newQueue() *queue { return &queue{notify: make(chan struct{}, 1)} }

func (q *queue) push(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *queue) drain() []func() {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	return items
}
