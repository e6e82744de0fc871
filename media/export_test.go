package media

import (
	"net/netip"
	"time"
)

// Hooks for the black-box tests of package media_test, which measure the playout stage's audio
// with internal/audiotest (which imports media, so the tests cannot live inside the package).

// Playout is the playout stage, for tests.
type Playout = playout

// NewPlayout returns a playout stage for decoded audio at rate, stamped at clockRate.
func NewPlayout(rate, clockRate int) *Playout {
	p := new(playout)
	p.init(rate, clockRate)
	return p
}

func (p *playout) Len() int                            { return len(p.fifo) }
func (p *playout) MaxPeriod() int                      { return p.tsmMaxT }
func (p *playout) Push(pcm []int16)                    { p.push(pcm) }
func (p *playout) Conceal(n int)                       { p.conceal(n) }
func (p *playout) Pull(out []int16)                    { p.pull(out) }
func (p *playout) Accelerate(keep int, force bool) int { return p.accelerate(keep, force) }
func (p *playout) Expand(force bool) int               { return p.expand(force) }

// DelayChanges returns how many times the playout stage changed the delay (accelerate and expand
// steps) and how far into the played audio the last one was. Call it after Close.
func (s *Session) DelayChanges() (steps uint64, last time.Duration) {
	p := &s.snd.po
	return p.accelerated + p.expanded, time.Duration(p.lastTSM) * time.Second / time.Duration(p.rate)
}

// HandlePacket files one received datagram as the receive goroutine would, at now.
func (s *Session) HandlePacket(b []byte, from netip.AddrPort, now time.Time) {
	s.handlePacket(b, from, now)
}
