package callmgr

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/media"
	"trayphone/nat"
)

// offLoopWithin is how soon a hang-up or CANCEL must end a call whose start is waiting on the
// network or the sound card: far below the 1.2 s of a silent STUN server, and well above what a
// SIP round trip on loopback takes on a loaded 2-core machine.
const offLoopWithin = 250 * time.Millisecond

// silentSTUN is a STUN server that never answers: a UDP socket that nobody reads.
func silentSTUN(t *testing.T) NAT {
	srv := udpOn(t)
	return fakeNAT{rep: nat.Report{
		Local:  netip.MustParseAddrPort("127.0.0.1:40000"),
		Public: netip.MustParseAddrPort("198.51.100.1:40000"), Mapping: nat.EndpointIndependent,
	}}.withServer(udpAddrOf(srv))
}

// stuckDevice is a sound card whose Open blocks until the test ends, then fails.
type stuckDevice struct {
	release chan struct{}
	once    sync.Once
	opened  chan struct{} // closed when Open was first entered
	oonce   sync.Once
}

func newStuckDevice(t *testing.T) *stuckDevice {
	d := &stuckDevice{release: make(chan struct{}), opened: make(chan struct{})}
	t.Cleanup(func() { d.once.Do(func() { close(d.release) }) })
	return d
}

func (d *stuckDevice) Name() string { return "stuck" }

func (d *stuckDevice) Open(rate, frame int) (media.Stream, error) {
	d.oonce.Do(func() { close(d.opened) })
	<-d.release
	return media.NewNull().Open(rate, frame)
}

// endedWithin waits for c's call to end and fails unless it did within d of since.
func (c *core) endedWithin(since time.Time, d time.Duration, what string) {
	c.t.Helper()
	c.waitState(5*time.Second, phone.CallEnded)
	if took := time.Since(since); took > d {
		c.t.Errorf("%s: %s took %v to end the call, want at most %v (the manager's loop was blocked)", c.name, what, took.Round(time.Millisecond), d)
	}
}

// TestHangupDuringSTUN: an outgoing call behind a NAT whose STUN server does not answer is hung
// up at once; the loop does not wait for the binding (up to 1.2 s).
func TestHangupDuringSTUN(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{nat: silentSTUN(t)})
	b := startCore(t, "bob", coreOpts{})
	start := time.Now()
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	a.endedWithin(start, offLoopWithin, "placing a call and hanging up")
}

// TestCancelDuringSTUN: the callee answers behind a NAT whose STUN server does not answer; the
// caller's CANCEL, arriving while the binding is still being tried, ends the call at once.
func TestCancelDuringSTUN(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{nat: silentSTUN(t)})
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	a.waitState(5*time.Second, phone.CallRinging)
	answered := make(chan error, 1)
	go func() { answered <- b.mgr.Answer(ctx(t), cb.ID) }()
	time.Sleep(100 * time.Millisecond) // the binding is under way
	start := time.Now()
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	b.endedWithin(start, offLoopWithin, "the caller's CANCEL")
	<-answered
}

// TestCancelDuringDeviceOpen: the callee's sound card takes long to open; the caller's CANCEL,
// arriving meanwhile, ends the call at once.
func TestCancelDuringDeviceOpen(t *testing.T) {
	checkGoroutines(t)
	dev := newStuckDevice(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{device: dev})
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	a.waitState(5*time.Second, phone.CallRinging)
	answered := make(chan error, 1)
	go func() { answered <- b.mgr.Answer(ctx(t), cb.ID) }()
	<-dev.opened
	start := time.Now()
	if err := a.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	b.endedWithin(start, offLoopWithin, "the caller's CANCEL")
	dev.once.Do(func() { close(dev.release) })
	<-answered
}

// TestByeDuringDeviceOpen: the caller's sound card takes long to open when the far end answers;
// the far end's BYE, arriving meanwhile, ends the call at once.
func TestByeDuringDeviceOpen(t *testing.T) {
	checkGoroutines(t)
	dev := newStuckDevice(t)
	a := startCore(t, "alice", coreOpts{device: dev})
	b := startCore(t, "bob", coreOpts{})
	if _, err := a.mgr.Call(ctx(t), b.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	cb := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Answer(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallActive)
	<-dev.opened
	start := time.Now()
	if err := b.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	a.endedWithin(start, offLoopWithin, "the far end's BYE")
}

// TestByeDuringConferenceDeviceOpen: joining two calls into a local conference opens the user's
// sound card for it, which takes long; a far end's BYE meanwhile ends its call at once.
func TestByeDuringConferenceDeviceOpen(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{toneHz: 1000})
	b := startCore(t, "b", coreOpts{toneHz: 600})
	c := startCore(t, "c", coreOpts{toneHz: 1400})
	ab, _ := established(t, a, b)
	ac, _ := established(t, a, c)
	dev := newStuckDevice(t)
	a.mgr.post(func() { a.mgr.cfg.Device = dev })
	joined := make(chan error, 1)
	go func() { joined <- a.mgr.Conference(ctx(t), []string{ab.ID, ac.ID}) }()
	<-dev.opened
	start := time.Now()
	if err := b.mgr.Hangup(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	a.wait(5*time.Second, "ended call with b", func(ci phone.CallInfo) bool { return ci.ID == ab.ID && ci.State == phone.CallEnded })
	if took := time.Since(start); took > offLoopWithin {
		t.Errorf("a: the far end's BYE took %v to end the call, want at most %v (the manager's loop was blocked)", took.Round(time.Millisecond), offLoopWithin)
	}
	if err := <-joined; err != nil {
		t.Errorf("conference: %v", err)
	}
	// The conference ended with b's call, before the device opened: c's call gets the device
	// once it opens.
	dev.once.Do(func() { close(dev.release) })
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		onDevice := make(chan bool, 1)
		a.mgr.post(func() {
			cl := a.mgr.calls[ac.ID]
			_, ok := cl.sw.Current().(*deviceStream)
			onDevice <- ok && cl.conf == nil
		})
		if <-onDevice {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("c's call is not back on the user's device 2 s after it opened")
		}
	}
	if err := a.mgr.Hangup(ctx(t), ac.ID); err != nil {
		t.Fatal(err)
	}
	c.waitState(5*time.Second, phone.CallEnded)
}
