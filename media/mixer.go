package media

import (
	"errors"
	"sync"
)

// MixMinusOne mixes a conference round: outs[i] becomes the sum of every ins[j] with j != i
// ("mix-minus"), clamped to 16 bits. It adds everything once into sum (len frame) and takes each
// participant's own part back out, so a round costs O(N×frame), not O(N²×frame). All slices
// are one frame long; it allocates nothing.
func MixMinusOne(outs, ins [][]int16, sum []int32) {
	clear(sum)
	for _, in := range ins {
		for k, v := range in {
			sum[k] += int32(v)
		}
	}
	for i, out := range outs {
		in := ins[i]
		for k := range out {
			out[k] = saturate(sum[k] - int32(in[k]))
		}
	}
}

// saturate clamps a sum to 16 bits. Clipping is rare in a conference (talkers take turns) and a
// hard clamp, unlike integer wrap-around, is heard as mild distortion rather than a crack.
func saturate(v int32) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// Mixer is a local conference: every Port contributes the frames written to it and reads the mix
// of the other ports' latest frames. Ports run on their own 20 ms schedules (each call's session,
// the user's device); a port that has not written for a while contributes silence.
//
// It is safe for concurrent use; Read and Write allocate nothing.
type Mixer struct {
	frame int

	mu    sync.Mutex
	ports []*Port
	round uint64 // bumped by every write: a new mix is due
	mixed uint64 // the round the outputs were mixed for
	ins   [][]int16
	outs  [][]int16
	sum   []int32
}

// NewMixer returns a mixer of frames of frameSamples samples.
func NewMixer(frameSamples int) *Mixer {
	return &Mixer{frame: frameSamples, sum: make([]int32, frameSamples)}
}

// Port is one participant of a Mixer; it is a Stream.
type Port struct {
	m       *Mixer
	in      []int16 // the latest frame written
	out     []int16 // what this port hears
	stale   int     // reads since the last write
	closed  bool
	onClose func()
}

// staleReads is after how many reads without a write a port's last frame stops being heard.
const staleReads = 3

// Join adds a participant. onClose, if set, runs once when the port is closed.
func (m *Mixer) Join(onClose func()) *Port {
	p := &Port{m: m, in: make([]int16, m.frame), out: make([]int16, m.frame), onClose: onClose}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ports = append(m.ports, p)
	m.rebuild()
	return p
}

// Ports returns how many participants are in the mixer.
func (m *Mixer) Ports() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ports)
}

// rebuild remakes the slices MixMinusOne works on after a join or leave. m.mu is held.
func (m *Mixer) rebuild() {
	m.ins, m.outs = m.ins[:0], m.outs[:0]
	for _, p := range m.ports {
		m.ins = append(m.ins, p.in)
		m.outs = append(m.outs, p.out)
	}
	m.round++
}

// mix brings every port's output up to date. m.mu is held.
func (m *Mixer) mix() {
	if m.mixed == m.round {
		return
	}
	MixMinusOne(m.outs, m.ins, m.sum)
	m.mixed = m.round
}

var errPortClosed = errors.New("mixer: port is closed")

// Write contributes one frame.
func (p *Port) Write(f []int16) error {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.closed {
		return errPortClosed
	}
	n := copy(p.in, f)
	clear(p.in[n:])
	p.stale = 0
	m.round++
	return nil
}

// Read fills f with the mix of the other participants.
func (p *Port) Read(f []int16) error {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.closed {
		clear(f)
		return errPortClosed
	}
	// Every participant reads once per frame; one that reads but stopped writing (its session
	// does not play while on hold, or stalled) must not have its last frame heard forever.
	p.stale++
	if p.stale == staleReads {
		clear(p.in)
		m.round++
	}
	m.mix()
	n := copy(f, p.out)
	clear(f[n:])
	return nil
}

// Close leaves the mixer. It is safe to call more than once.
func (p *Port) Close() error {
	m := p.m
	m.mu.Lock()
	if p.closed {
		m.mu.Unlock()
		return nil
	}
	p.closed = true
	for i, q := range m.ports {
		if q == p {
			m.ports = append(m.ports[:i], m.ports[i+1:]...)
			break
		}
	}
	m.rebuild()
	onClose := p.onClose
	m.mu.Unlock()
	if onClose != nil {
		onClose()
	}
	return nil
}
