package nat

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Report is what STUN found out about one socket's way to the internet.
type Report struct {
	// Server is the STUN server asked.
	Server netip.AddrPort
	// Local is the socket's own address (with the IP the system routes to Server).
	Local netip.AddrPort
	// Public is the socket's address as the server saw it.
	Public netip.AddrPort
	// Mapping and Filtering are the NAT's behaviours (RFC 5780 section 4.3 and 4.4). They stay
	// BehaviorUnknown when the server does not support RFC 5780 (no OTHER-ADDRESS).
	Mapping, Filtering Behavior
}

// Type is the NAT type a user sees: "none", "endpoint-independent", "address-dependent",
// "symmetric" or "unknown".
func (r Report) Type() string { return TypeName(r.Mapping) }

// Symmetric reports whether the NAT maps per destination (address-dependent or worse): then the
// public address STUN found is useless to any other peer, and media needs a TURN relay.
func (r Report) Symmetric() bool {
	return r.Mapping == AddressDependent || r.Mapping == AddressPortDependent
}

// filterWait is how long a CHANGE-REQUEST test waits: no answer is the expected result for a
// filtering NAT, so it must not take the full retransmission schedule.
const filterWait = 1500 * time.Millisecond

// Discover runs RFC 5780 NAT behaviour discovery through p, whose socket is bound to local (its
// IP may be unspecified). The socket should be one that nothing else sends from, because the
// tests open filters towards the server's alternate address. Without RFC 5780 support on the
// server it returns the public address with unknown behaviours.
//
// Order matters: the filtering tests (RFC 5780 section 4.4) run before the mapping tests of
// section 4.3 send anything to the alternate address, which would open the filter for it.
func Discover(ctx context.Context, p *Prober, server netip.AddrPort, local netip.AddrPort) (Report, error) {
	rep := Report{Server: server, Local: localFor(local, server.Addr())}
	r1, err := p.Bind(ctx, server)
	if err != nil {
		return rep, errf("ask %s for our public address: %w", server, err)
	}
	rep.Public = r1.Mapped
	if r1.Mapped == rep.Local {
		rep.Mapping, rep.Filtering = NoNAT, NoNAT
		return rep, nil
	}
	other := r1.Other
	if !other.IsValid() || other.Addr() == server.Addr() || other.Port() == server.Port() {
		return rep, nil // no RFC 5780 on this server
	}

	// Filtering test II: answer from the other IP and port.
	if _, err := bindWait(ctx, p, server, changeIP|changePort); err == nil {
		rep.Filtering = EndpointIndependent
	} else if ctx.Err() != nil {
		return rep, ctx.Err()
	} else if _, err := bindWait(ctx, p, server, changePort); err == nil { // test III
		rep.Filtering = AddressDependent
	} else if ctx.Err() != nil {
		return rep, ctx.Err()
	} else {
		rep.Filtering = AddressPortDependent
	}

	// Mapping test II: the other IP, the primary port.
	r2, err := p.Bind(ctx, netip.AddrPortFrom(other.Addr(), server.Port()))
	if err != nil {
		return rep, errf("ask %s for our public address: %w", other.Addr(), err)
	}
	if r2.Mapped == r1.Mapped {
		rep.Mapping = EndpointIndependent
		return rep, nil
	}
	// Mapping test III: the other IP and port.
	r3, err := p.Bind(ctx, other)
	if err != nil {
		return rep, errf("ask %s for our public address: %w", other, err)
	}
	if r3.Mapped == r2.Mapped {
		rep.Mapping = AddressDependent
	} else {
		rep.Mapping = AddressPortDependent
	}
	return rep, nil
}

func bindWait(ctx context.Context, p *Prober, server netip.AddrPort, change uint32) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, filterWait)
	defer cancel()
	r, err := p.bind(ctx, server, change)
	if errors.Is(err, context.DeadlineExceeded) {
		err = ErrNoResponse
	}
	return r, err
}

// localFor fills in an unspecified local IP with the one the system routes to dst.
func localFor(local netip.AddrPort, dst netip.Addr) netip.AddrPort {
	if local.Addr().IsValid() && !local.Addr().IsUnspecified() {
		return netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	}
	c, err := net.Dial("udp", netip.AddrPortFrom(dst, 9).String()) // sends nothing: a route lookup
	if err != nil {
		return local
	}
	defer c.Close()
	a := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	return netip.AddrPortFrom(a, local.Port())
}

// DiscoverConn runs Discover on conn, reading it until done; it does not close conn.
func DiscoverConn(ctx context.Context, conn net.PacketConn, server netip.AddrPort) (Report, error) {
	var rep Report
	err := WithConn(ctx, conn, func(ctx context.Context, p *Prober) error {
		var err error
		rep, err = Discover(ctx, p, server, netAddrPort(conn.LocalAddr()))
		return err
	})
	return rep, err
}

// WithConn runs f with a Prober that sends on conn while a goroutine reads conn for it, for a
// socket nothing else reads yet. It returns when f has, after the reader stopped; it does not
// close conn.
func WithConn(ctx context.Context, conn net.PacketConn, f func(context.Context, *Prober) error) error {
	p := NewProber(PacketSender(conn), nil)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	// This goroutine reads conn until f returns (a short read deadline lets it notice).
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for ctx.Err() == nil {
			conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
			p.Handle(buf[:n], netAddrPort(from))
		}
	}()
	err := f(ctx, p)
	cancel()
	<-done
	conn.SetReadDeadline(time.Time{})
	return err
}
