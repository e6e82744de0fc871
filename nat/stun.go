package nat

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v3"

	"trayphone/internal/clock"
)

// ErrNoResponse means a STUN server did not answer a binding request (after retransmissions).
var ErrNoResponse = errors.New("no answer from the STUN server")

// IsSTUN reports whether b looks like a STUN message (RFC 8489 section 5: two zero bits, the magic
// cookie). SIP, RTP and RTCP never match: their first byte is a letter or has version bits 10.
func IsSTUN(b []byte) bool { return stun.IsMessage(b) }

// Response is what a binding request found out.
type Response struct {
	// Mapped is our address as the server saw it (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS).
	Mapped netip.AddrPort
	// Other is the server's alternate address (OTHER-ADDRESS, RFC 5780 section 7.4), if any.
	Other netip.AddrPort
	// From is where the response came from.
	From netip.AddrPort
}

// Sender sends one datagram to. It is the socket that the mapping is wanted for.
type Sender func(b []byte, to netip.AddrPort) error

// Prober runs STUN binding transactions over a socket that something else reads: the owner of the
// socket passes every datagram it receives to Handle first. The SIP listener does this through its
// transport read filter, a media socket through its receive loop, and ServeConn does it for a socket
// the Prober may read itself.
type Prober struct {
	send Sender
	clk  clock.Clock

	mu      sync.Mutex
	pending map[[stun.TransactionIDSize]byte]chan Response
}

// NewProber returns a Prober that sends through send. clk paces retransmissions; nil means real.
func NewProber(send Sender, clk clock.Clock) *Prober {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Prober{send: send, clk: clk, pending: map[[stun.TransactionIDSize]byte]chan Response{}}
}

// Handle offers a received datagram to the Prober. It reports true when b is a STUN message, which
// the caller must then drop (it is not SIP or RTP); responses to our own requests complete them.
func (p *Prober) Handle(b []byte, from netip.AddrPort) bool {
	if !IsSTUN(b) {
		return false
	}
	r, id, ok := ParseResponse(b)
	if !ok {
		return true
	}
	r.From = from
	p.mu.Lock()
	ch := p.pending[id]
	delete(p.pending, id)
	p.mu.Unlock()
	if ch != nil {
		ch <- r // buffered, one send per transaction
	}
	return true
}

// ParseResponse decodes a STUN binding success response. ok is false for anything else.
func ParseResponse(b []byte) (r Response, id [stun.TransactionIDSize]byte, ok bool) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingSuccess {
		return r, id, false
	}
	id = m.TransactionID
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(m); err == nil {
		r.Mapped = addrPort(xor.IP, xor.Port)
	} else {
		var ma stun.MappedAddress
		if err := ma.GetFrom(m); err != nil {
			return r, id, false
		}
		r.Mapped = addrPort(ma.IP, ma.Port)
	}
	var other stun.OtherAddress
	if err := other.GetFrom(m); err == nil {
		r.Other = addrPort(other.IP, other.Port)
	}
	return r, id, r.Mapped.IsValid()
}

func addrPort(ip net.IP, port int) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// Change-request flags (RFC 5780 section 7.2).
const (
	changeIP   = 0x04
	changePort = 0x02
)

// Retransmission schedule: RFC 8489 section 6.2.1 starts at RTO 500 ms and doubles; we give up
// sooner than its 39.5 s because a user is waiting.
const (
	firstRTO   = 500 * time.Millisecond
	maxRetries = 4 // 0.5 + 1 + 2 + 4 = 7.5 s, then the last wait
)

// Bind sends a binding request to server and waits for the response, retransmitting as RFC 8489
// says. change, if non-zero, adds a CHANGE-REQUEST with those flags (RFC 5780).
func (p *Prober) Bind(ctx context.Context, server netip.AddrPort) (Response, error) {
	return p.bind(ctx, server, 0)
}

func (p *Prober) bind(ctx context.Context, server netip.AddrPort, change uint32) (Response, error) {
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
	if change != 0 {
		setters = append(setters, changeRequest(change))
	}
	setters = append(setters, stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		return Response{}, err
	}
	ch := make(chan Response, 1)
	p.mu.Lock()
	p.pending[m.TransactionID] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, m.TransactionID)
		p.mu.Unlock()
	}()
	rto := firstRTO
	t := p.clk.NewTimer(rto)
	defer t.Stop()
	for try := 0; ; try++ {
		if err := p.send(m.Raw, server); err != nil {
			return Response{}, errf("send a STUN request to %s: %w", server, err)
		}
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return Response{}, ctx.Err()
		case <-t.C():
		}
		if try == maxRetries {
			return Response{}, ErrNoResponse
		}
		rto *= 2
		t.Reset(rto)
	}
}

type changeRequest uint32

func (c changeRequest) AddTo(m *stun.Message) error {
	v := uint32(c)
	m.Add(stun.AttrChangeRequest, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return nil
}

// ServeConn reads conn and hands every datagram to p; datagrams that are not STUN go to other,
// if non-nil. It returns when conn is closed or ctx is done (it then closes conn).
func ServeConn(ctx context.Context, conn net.PacketConn, p *Prober, other func(b []byte, from netip.AddrPort)) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		ap := netAddrPort(from)
		if !p.Handle(buf[:n], ap) && other != nil {
			other(buf[:n], ap)
		}
	}
}

// PacketSender returns a Sender that writes to conn.
func PacketSender(conn net.PacketConn) Sender {
	return func(b []byte, to netip.AddrPort) error {
		_, err := conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
		return err
	}
}

func netAddrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// BindingIndication returns a STUN binding indication (RFC 8489 section 3.2): a keepalive that the
// server answers with nothing.
func BindingIndication() []byte {
	m, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication), stun.Fingerprint)
	return m.Raw
}
