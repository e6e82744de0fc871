package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"trayphone/internal/phone"
)

// fakeCore is a Core that records what it is asked and publishes events with blocking sends on
// unbuffered channels, so that a server that does not drain its subscription would stall it.
type fakeCore struct {
	mu     sync.Mutex
	log    []string
	status phone.Status
	subs   map[int]chan phone.Event
	nextID int
}

func newFakeCore() *fakeCore {
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return &fakeCore{
		subs: map[int]chan phone.Event{},
		status: phone.Status{
			Version: phone.ProtocolVersion,
			PID:     4242,
			Contact: []string{"sip:alice@192.168.1.5:5060"},
			Accounts: []phone.AccountInfo{
				{ID: "work", AOR: "sip:alice@example.com", State: phone.RegRegistered},
				{ID: "home", AOR: "sip:alice@home.example", State: phone.RegFailed, Reason: "403 Forbidden"},
			},
			Calls: []phone.CallInfo{{
				ID: "c1", Direction: phone.Outgoing, Remote: "sip:bob@192.168.1.20", State: phone.CallActive,
				Codec: "PCMU", Encryption: "srtp", Started: started, Answered: started.Add(2 * time.Second), Duration: 65,
			}},
		},
	}
}

func (f *fakeCore) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf(format, args...))
}

func (f *fakeCore) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeCore) Call(_ context.Context, target, account string) (phone.CallInfo, error) {
	f.record("call %s %s", target, account)
	if target == "nobody" {
		return phone.CallInfo{}, errors.New(`no favorite named "nobody" and not a SIP address`)
	}
	return phone.CallInfo{ID: "c2", Direction: phone.Outgoing, Remote: "sip:" + target + "@example.com", State: phone.CallDialing}, nil
}

func (f *fakeCore) Answer(_ context.Context, id string) error {
	f.record("answer %s", id)
	if id == "" {
		return errors.New("no incoming call to answer")
	}
	return nil
}
func (f *fakeCore) Hangup(_ context.Context, id string) error { f.record("hangup %s", id); return nil }
func (f *fakeCore) Hold(_ context.Context, id string) error   { f.record("hold %s", id); return nil }
func (f *fakeCore) Resume(_ context.Context, id string) error { f.record("resume %s", id); return nil }
func (f *fakeCore) Mute(_ context.Context, id string, on bool) error {
	f.record("mute %s %v", id, on)
	return nil
}
func (f *fakeCore) SetDND(_ context.Context, on bool) error {
	f.record("dnd %v", on)
	f.mu.Lock()
	f.status.DND = on
	f.mu.Unlock()
	return nil
}

func (f *fakeCore) Status() phone.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeCore) Subscribe() (<-chan phone.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	ch := make(chan phone.Event)
	f.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

func (f *fakeCore) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// publish sends ev to every subscriber, blocking on each send, and gives up after timeout.
func (f *fakeCore) publish(ev phone.Event, timeout time.Duration) error {
	f.mu.Lock()
	subs := make([]chan phone.Event, 0, len(f.subs))
	for _, ch := range f.subs {
		subs = append(subs, ch)
	}
	f.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for _, ch := range subs {
		select {
		case ch <- ev:
		case <-t.C:
			return errors.New("publish blocked")
		}
	}
	return nil
}
