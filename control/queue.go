package control

import (
	"sync"

	"trayphone/internal/phone"
)

// eventQueue is one subscriber's bounded buffer. Push never blocks: when the queue is full it drops
// the oldest event. Events carry full snapshots, so a slow reader still ends with the latest state.
type eventQueue struct {
	mu      sync.Mutex
	buf     []phone.Event
	size    int
	dropped uint64
	closed  bool
	ready   chan struct{} // has a value while buf is not empty or the queue is closed
}

func newEventQueue(size int) *eventQueue {
	return &eventQueue{size: size, ready: make(chan struct{}, 1)}
}

// push adds ev, dropping the oldest event if the queue is full.
func (q *eventQueue) push(ev phone.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.buf) == q.size {
		copy(q.buf, q.buf[1:])
		q.buf = q.buf[:len(q.buf)-1]
		q.dropped++
	}
	q.buf = append(q.buf, ev)
	q.signal()
}

// close wakes pop for good.
func (q *eventQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop waits for the oldest event; it returns false once the queue is closed.
func (q *eventQueue) pop() (phone.Event, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return phone.Event{}, false
		}
		if len(q.buf) > 0 {
			ev := q.buf[0]
			q.buf[0] = phone.Event{}
			q.buf = q.buf[1:]
			if len(q.buf) > 0 {
				q.signal()
			}
			q.mu.Unlock()
			return ev, true
		}
		q.mu.Unlock()
		<-q.ready
	}
}
