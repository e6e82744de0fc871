package nat

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/turn/v4"
)

// TURNConfig names a TURN server and the long-term credentials for it (RFC 8656 section 9.2).
type TURNConfig struct {
	Server   string // host:port
	Username string
	Password string
	Realm    string // "" takes the server's
}

// Relay is a TURN allocation: a public address on the TURN server whose traffic reaches us over
// base. It is the fallback for media when the NAT is symmetric.
type Relay struct {
	client *turn.Client
	conn   net.PacketConn // the relayed "socket"
	addr   netip.AddrPort

	mu     sync.Mutex
	bridge *net.UDPConn
	wg     sync.WaitGroup
}

// Allocate asks the TURN server for a relayed address over base (a socket we own and that nothing
// else reads: the client reads it). Permissions for peers are created as they are written to, and
// the allocation is refreshed by the client until Close.
func Allocate(base net.PacketConn, cfg TURNConfig) (*Relay, error) {
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: cfg.Server, TURNServerAddr: cfg.Server,
		Username: cfg.Username, Password: cfg.Password, Realm: cfg.Realm, Conn: base,
	})
	if err != nil {
		return nil, errf("TURN server %s: %w", cfg.Server, err)
	}
	if err := c.Listen(); err != nil {
		c.Close()
		return nil, errf("TURN server %s: %w", cfg.Server, err)
	}
	conn, err := c.Allocate()
	if err != nil {
		c.Close()
		return nil, errf("the TURN server %s refused a relay (check the username and password): %w", cfg.Server, err)
	}
	return &Relay{client: c, conn: conn, addr: netAddrPort(conn.LocalAddr())}, nil
}

// Addr is the relayed address: put it in SDP c=/m= so the far end sends to the relay.
func (r *Relay) Addr() netip.AddrPort { return r.addr }

// Conn is the relayed socket: WriteTo a peer goes out from Addr, ReadFrom returns what peers sent.
func (r *Relay) Conn() net.PacketConn { return r.conn }

// Bridge returns a loopback UDP socket that stands for the relay, for code that wants a
// *net.UDPConn (media.Session): datagrams it sends to the returned address go to the peer through
// the relay, and what the peer sends through the relay arrives on it from that address. Call it
// (or BridgeTo) once; the bridge stops at Close.
func (r *Relay) Bridge(peer netip.AddrPort) (*net.UDPConn, netip.AddrPort, error) {
	app, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	proxy, err := r.BridgeTo(peer, app.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		app.Close()
		return nil, netip.AddrPort{}, err
	}
	return app, proxy, nil
}

// BridgeTo is Bridge for a socket that already exists (a media session's, mid-call): it returns
// a loopback address standing for peer; datagrams sent to it go to peer through the relay, and
// what peers send through the relay is sent from it to app. Call it (or Bridge) once; the bridge
// stops at Close.
func (r *Relay) BridgeTo(peer, app netip.AddrPort) (netip.AddrPort, error) {
	proxy, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return netip.AddrPort{}, err
	}
	r.mu.Lock()
	r.bridge = proxy
	r.mu.Unlock()
	peerAddr := net.UDPAddrFromAddrPort(peer)
	r.wg.Add(2)
	// These goroutines copy datagrams; they return when Close closes the relay and the proxy.
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := proxy.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			r.conn.WriteTo(buf[:n], peerAddr)
		}
	}()
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := r.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			proxy.WriteToUDPAddrPort(buf[:n], app)
		}
	}()
	return proxy.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// Close releases the allocation and stops a bridge.
func (r *Relay) Close() error {
	err := r.conn.Close()
	r.mu.Lock()
	if r.bridge != nil {
		r.bridge.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.client.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
