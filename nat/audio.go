package nat

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Bounds on the traversal work for a call's audio socket: the call is waiting.
const (
	// AudioSTUNWait bounds the STUN binding on a new audio socket (two tries).
	AudioSTUNWait = 1200 * time.Millisecond
	// TURNWait bounds a TURN allocation.
	TURNWait = 5 * time.Second
)

// Behind reports whether traffic from localIP goes out through the NAT r describes: r found a
// public address other than its local one, and localIP is the discovery's local address or the
// public one (an account's registrar may have taught us the latter). A call on the LAN or on
// loopback goes through no NAT.
func (r Report) Behind(localIP netip.Addr) bool {
	if !r.Public.IsValid() || r.Mapping == NoNAT || r.Public.Addr() == r.Local.Addr() {
		return false
	}
	return localIP == r.Local.Addr() || localIP == r.Public.Addr()
}

// RelayReason says why a new call's audio behind the NAT r needs a TURN relay, "" when nothing
// says so yet: a symmetric NAT, or what advice says (the STUN server and the registrar seeing the
// SIP socket at different ports; nil is no advice).
func RelayReason(r Report, advice func() (why string, ok bool)) string {
	if r.Symmetric() {
		return "this network's router is a symmetric NAT (the STUN server's RFC 5780 tests)"
	}
	if advice != nil {
		if why, ok := advice(); ok {
			return why
		}
	}
	return ""
}

// AudioPath is how the far end reaches a call's audio socket behind a NAT.
type AudioPath struct {
	// Public is the address for the call's SDP: the relay's, the one STUN found on the socket,
	// or (STUNErr set) the NAT's public address with the socket's port.
	Public netip.AddrPort
	// Relay is the TURN allocation the audio goes through, nil if none; the caller closes it.
	Relay *Relay
	// RelayErr says why the relay that was tried could not be allocated.
	RelayErr error
	// STUNErr says why STUN did not answer on the socket (Public then assumes a port-preserving
	// NAT: most home routers, Linux MASQUERADE).
	STUNErr error
}

// OpenAudio finds how the far end reaches conn, a call's new audio socket that nothing reads yet,
// behind the NAT r describes: with turn set (the call needs a relay and one is configured), a
// TURN allocation on conn; otherwise, or when that fails, a STUN binding on conn itself to r's
// server. It blocks for up to TURNWait plus AudioSTUNWait: callers run it off their own loop.
func OpenAudio(conn *net.UDPConn, r Report, turn *TURNConfig) AudioPath {
	var p AudioPath
	if turn != nil {
		p.Relay, p.RelayErr = AllocateTimeout(conn, *turn, TURNWait)
		if p.RelayErr == nil {
			p.Public = p.Relay.Addr()
			return p
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), AudioSTUNWait)
	defer cancel()
	res, err := BindOn(ctx, conn, r.Server)
	if err != nil {
		port := uint16(0)
		if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
			port = uint16(a.Port)
		}
		p.Public, p.STUNErr = netip.AddrPortFrom(r.Public.Addr(), port), err
		return p
	}
	p.Public = res.Mapped
	return p
}

// AllocateTimeout is Allocate bounded in time: on timeout the allocation goes on in the
// background and is closed when it finishes.
func AllocateTimeout(base net.PacketConn, cfg TURNConfig, d time.Duration) (*Relay, error) {
	type result struct {
		r   *Relay
		err error
	}
	ch := make(chan result, 1)
	// Returns when Allocate does (pion's transactions time out on their own).
	go func() { r, err := Allocate(base, cfg); ch <- result{r, err} }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.r, res.err
	case <-t.C:
		go func() {
			if res := <-ch; res.r != nil {
				res.r.Close()
			}
		}()
		return nil, fmt.Errorf("the TURN server %s did not answer", cfg.Server)
	}
}

// BindOn sends a STUN binding request from conn, which nothing else reads yet, and reads the
// answer itself.
func BindOn(ctx context.Context, conn *net.UDPConn, server netip.AddrPort) (Response, error) {
	var r Response
	err := WithConn(ctx, conn, func(ctx context.Context, p *Prober) error {
		var err error
		r, err = p.Bind(ctx, server)
		return err
	})
	return r, err
}
