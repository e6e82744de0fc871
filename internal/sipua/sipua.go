// Package sipua owns trayphone's one sipgo user agent: the UDP and TCP listeners on one port, the
// server that receives requests and the client that sends them, and the local address the phone
// advertises in Via and Contact.
package sipua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Product is the User-Agent / Server header value.
const Product = "trayphone/0.1"

// portTries is how many ports after the asked one New tries when it is taken.
const portTries = 20

// Config is what New needs.
type Config struct {
	// Listen is HOST:PORT for both UDP and TCP. Port 0 picks a free one; a taken port moves to
	// the next free one (up to 20 tries), which is logged.
	Listen string
	// User is the user part of our Contact (e.g. the login name).
	User string
	// DisplayName goes into From.
	DisplayName string
	// TLS is the client TLS configuration for accounts on TLS (nil: system roots).
	TLS *tls.Config
	Log *slog.Logger
	// Intercept, if set, sees every datagram the UDP listener receives before SIP parsing; when
	// it reports true the datagram is consumed (not SIP: e.g. a STUN response to a binding
	// request sent with SendUDP, so that STUN finds the SIP socket's own public mapping). It
	// runs on the listener's read goroutine and must not block.
	Intercept func(b []byte, from netip.AddrPort) bool
}

// UA is the started user agent. Its fields are read-only after New.
type UA struct {
	UA     *sipgo.UserAgent
	Server *sipgo.Server
	// Client sends requests from the UDP listening socket, so that replies and in-dialog requests
	// come back to the port we advertise.
	Client *sipgo.Client
	// Host is the IP we advertise (the listen IP, or the address of the default route when
	// listening on all interfaces).
	Host netip.Addr
	Port int
	User string
	// DisplayName goes into From.
	DisplayName string

	log *slog.Logger
	udp net.PacketConn
	// lc is udp as sipgo's read loop sees it (see listenerConn).
	lc  *listenerConn
	tcp *guardedListener
	// closed is set when Close begins: no request leaves and no TCP or TLS connection is dialed
	// after it.
	closed atomic.Bool
	wg     sync.WaitGroup
	once   sync.Once
}

// New binds UDP and TCP on the same port and builds the sipgo user agent. Call Serve to start
// receiving and Close to release everything.
func New(cfg Config) (*UA, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("listen address %q: bad port", cfg.Listen)
	}
	ip := netip.IPv4Unspecified()
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("listen address %q: host must be an IP address", cfg.Listen)
		}
	}
	udp, tcp, bound, err := bindPair(ip, port)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	u := &UA{Port: bound, DisplayName: cfg.DisplayName, log: log, udp: udp, tcp: newGuardedListener(tcp, log.With("component", "sip"))}
	if port != 0 && bound != port {
		log.Warn("SIP port taken, using the next free one", "asked", port, "port", bound)
	}
	adv := ip
	if ip.IsUnspecified() {
		adv = DefaultRouteIP()
	}
	user := cfg.User
	if user == "" {
		user = "trayphone"
	}
	// Our own TCP and TLS transports differ from sipgo's defaults only in their dialer, which
	// refuses to connect once Close has begun (see dialer).
	// sipgo's layers log through a rate-limited handler on our logger (ratelog.go).
	layerLog := slog.New(newRateLimited(log.With("component", "sip").Handler(), 10*time.Second))
	tpOpts := []sip.TransportLayerOption{sip.WithTransportLayerTransports(sip.TransportsConfig{
		TCP: &sip.TransportTCP{DialerCreate: u.dialer},
		TLS: &sip.TransportTLS{TransportTCP: &sip.TransportTCP{DialerCreate: u.dialer}},
	}), sip.WithTransportLayerLogger(layerLog)}
	if cfg.Intercept != nil {
		tpOpts = append(tpOpts, sip.WithTransportLayerReadFilter(interceptFilter(cfg.Intercept)))
	}
	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent(user), sipgo.WithUserAgentHostname(adv.String()),
		sipgo.WithUserAgentTransportLayerOptions(tpOpts...),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(layerLog)),
		sipgo.WithUserAgentParser(sip.NewParser(sip.WithHeadersParsers(headerParsers())))}
	if cfg.TLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(cfg.TLS))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log.With("component", "sip")))
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua,
		sipgo.WithClientLogger(log.With("component", "sip")),
		sipgo.WithClientHostname(adv.String()),
		sipgo.WithClientPort(bound),
		sipgo.WithClientConnectionAddr(udp.LocalAddr().String()),
		sipgo.WithClientNAT(),
	)
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return nil, err
	}
	laddr := sip.Addr{IP: net.IP(adv.AsSlice()), Port: bound}
	if la, ok := udp.LocalAddr().(*net.UDPAddr); ok {
		laddr = sip.Addr{IP: la.IP, Port: la.Port}
	}
	cli.TxRequester = fromListener{tx: ua.TransactionLayer(), laddr: laddr, closed: &u.closed}
	u.UA, u.Server, u.Client, u.Host, u.User = ua, srv, cli, adv, user
	u.lc = newListenerConn(udp.(*net.UDPConn), ua.TransportLayer().Pool("udp"))
	return u, nil
}

// errClosed is what requests sent after Close get.
var errClosed = errors.New("the SIP user agent is closed")

// dialer is sipgo's default TCP/TLS dialer (1 minute timeout, Go's keepalive) that refuses to
// connect once Close has begun. sipgo handles each incoming request on a goroutine of its own;
// one that runs after Close has closed every connection finds none to answer on and would dial
// the request's Via address, leaving a connection and its reader behind.
func (u *UA) dialer(laddr net.Addr) net.Dialer {
	return net.Dialer{
		Timeout:   time.Minute,
		LocalAddr: laddr,
		ControlContext: func(context.Context, string, string, syscall.RawConn) error {
			if u.closed.Load() {
				return errClosed
			}
			return nil
		},
	}
}

// interceptFilter adapts Config.Intercept to sipgo's read filter. An empty result makes sipgo
// skip the datagram; an error would stop its read loop, so it never returns one.
func interceptFilter(f func(b []byte, from netip.AddrPort) bool) sip.TransportReadFilter {
	return func(info sip.TransportReadProps, data []byte) ([]byte, error) {
		if !strings.EqualFold(info.Transport, "udp") {
			return data, nil
		}
		var from netip.AddrPort
		if u, ok := info.RemoteAddr.(*net.UDPAddr); ok {
			ap := u.AddrPort()
			from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		if f(data, from) {
			return nil, nil
		}
		return data, nil
	}
}

// SendUDP sends one datagram from the SIP listening socket (STUN binding requests and
// keepalives for the SIP socket's own NAT mapping).
func (u *UA) SendUDP(b []byte, to netip.AddrPort) error {
	_, err := u.udp.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

// bindPair binds UDP and TCP on the same port, starting at port and moving up when it is taken.
func bindPair(ip netip.Addr, port int) (net.PacketConn, net.Listener, int, error) {
	var lastErr error
	for i := 0; i < portTries; i++ {
		p := port
		if port != 0 {
			p = port + i
			if p > 65535 {
				break
			}
		}
		udp, err := net.ListenPacket("udp", netip.AddrPortFrom(ip, uint16(p)).String())
		if err != nil {
			lastErr = err
			continue
		}
		bound := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(bound)).String())
		if err != nil {
			udp.Close()
			lastErr = err
			continue
		}
		return udp, tcp, bound, nil
	}
	return nil, nil, 0, fmt.Errorf("no free port from %d: %w", port, lastErr)
}

// DefaultRouteIP returns the local address the system would use to reach the internet, or the
// loopback address on a machine without a route.
func DefaultRouteIP() netip.Addr {
	for _, probe := range []string{"192.0.2.1:9", "[2001:db8::1]:9"} {
		c, err := net.Dial("udp", probe) // no packet is sent: this only asks the routing table
		if err != nil {
			continue
		}
		a := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		c.Close()
		if a.IsValid() && !a.IsUnspecified() {
			return a
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// LocalIPFor returns the local address used to reach dst; the advertised host when unsure.
func (u *UA) LocalIPFor(dst netip.Addr) netip.Addr {
	if !u.listenUnspecified() {
		return u.Host
	}
	c, err := net.Dial("udp", netip.AddrPortFrom(dst, 9).String())
	if err != nil {
		return u.Host
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

// SelfAddr is an address this phone can send SIP to itself on (the built-in echo test).
func (u *UA) SelfAddr() netip.AddrPort {
	if u.listenUnspecified() {
		lo := netip.MustParseAddr("127.0.0.1")
		if u.Host.Is6() {
			lo = netip.IPv6Loopback()
		}
		return netip.AddrPortFrom(lo, uint16(u.Port))
	}
	return netip.AddrPortFrom(u.Host, uint16(u.Port))
}

func (u *UA) listenUnspecified() bool {
	a, ok := u.udp.LocalAddr().(*net.UDPAddr)
	return ok && a.IP.IsUnspecified()
}

// Contact returns our Contact header for user at the advertised address.
func (u *UA) Contact() sip.ContactHeader {
	return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: u.User, Host: u.Host.String(), Port: u.Port}}
}

// AOR is our direct-call address, sip:user@host:port.
func (u *UA) AOR() string {
	c := u.Contact()
	return c.Address.String()
}

// Start begins receiving SIP on UDP and TCP and returns once the listeners are ready to carry
// outgoing requests too. The serving goroutines exit when Close is called.
func (u *UA) Start() error {
	u.wg.Add(2)
	go func() {
		defer u.wg.Done()
		// sipgo's read loop ends on stop, and also when listenerConn recycles it (see there);
		// then it starts again with a fresh set of its own.
		for {
			_ = u.Server.ServeUDP(u.lc)
			if u.lc.stopping.Load() {
				return
			}
		}
	}()
	go func() { defer u.wg.Done(); _ = u.Server.ServeTCP(u.tcp) }()
	// Requests leave from the UDP listener: wait until sipgo has it in its connection pool, or
	// the first INVITE would try to bind the port a second time.
	addr := u.udp.LocalAddr().String()
	for i := 0; i < 200; i++ {
		if c, _ := u.UA.TransportLayer().GetConnection("udp", addr); c != nil {
			u.lc.self.Store(&c)
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("SIP listener %s did not start", addr)
}

// Serve is Start, then waits until ctx is done and closes everything. It returns after both
// listeners have stopped.
func (u *UA) Serve(ctx context.Context) error {
	if err := u.Start(); err != nil {
		u.Close()
		return err
	}
	<-ctx.Done()
	u.Close()
	return nil
}

// Close closes the listeners, every connection and the user agent, and waits for the serving
// goroutines. No socket and no sipgo reader goroutine is left after it, also when requests
// arrive while it runs. It is safe to call more than once.
//
// sipgo's own UserAgent.Close is not used: it empties the UDP connection pool, and a request
// sipgo read just before (it handles each on a goroutine of its own) would then find no
// connection to answer on and open a new UDP socket, from an ephemeral port, that nobody closes.
// Instead the listener's read loop hands its pool entries to a stand-in for the listener before
// it stops (listenerConn), the UDP pool is kept, and every other pool is cleared.
func (u *UA) Close() error {
	var err error
	u.once.Do(func() {
		u.closed.Store(true)
		u.lc.stop()
		err = u.tcp.Close()
		u.wg.Wait() // the UDP read loop has handed over; the TCP accept loop has ended
		err = errors.Join(err, u.udp.Close())
		u.UA.TransactionLayer().Close()
		tl := u.UA.TransportLayer()
		for _, network := range []string{"tcp", "tls", "ws", "wss"} {
			if p := tl.Pool(network); p != nil {
				err = errors.Join(err, p.Clear())
			}
		}
	})
	return err
}

// listenerConn is the UDP listening socket as sipgo's read loop sees it. sipgo files the
// listener in its connection pool under the listener's own address and under the address of
// every peer it has read from, and answers requests through those entries. When its read loop
// ends it deletes them all, so a request it read just before, still on its way through the
// transaction layer, would find no entry and sipgo would open a new socket for it.
//
// listenerConn therefore ends the read loop itself: once stop is called, the read loop's next
// ReadFrom (a read deadline wakes a blocked one) first re-files every one of those addresses
// under a stand-in for the listener — same socket, but a connection sipgo does not delete — and
// only then reports the socket closed. Late requests answer through the stand-in (from the
// listener's port while the socket is open, with an error after), never through a new socket.
//
// Per-peer state expires: a peer not heard from for udpPeerExpiry (longer than any transaction
// lives) is removed from the set and from sipgo's pool, and filed again in both when it sends
// another datagram, before sipgo sees the datagram.
//
// sipgo's read loop also keeps a set of its own of every address it filed, which nothing reaches
// and nothing empties while the loop runs (a flood of spoofed sources grew it by about 100 bytes
// per address, for good). listenerConn therefore recycles the read loop once it may have filed
// more than twice the live peers (and at least recycleAfter, or 64 at a sweep): the next ReadFrom files the live
// peers and the listener's own address under a stand-in on the same socket, as after stop, and
// reports the socket closed; sipgo's loop ends, dropping its set, and Start's goroutine starts a
// new one. No datagram is lost: they wait in the socket meanwhile.
type listenerConn struct {
	*net.UDPConn
	pool     *sip.ConnectionPool
	stopping atomic.Bool
	// self is sipgo's connection for the listener, filed for returning peers (set by Start).
	self atomic.Pointer[sip.Connection]
	now  func() time.Time

	// Read loop only.
	last  netip.AddrPort
	peers map[string]time.Time // last change to this peer seen
	peak  int                  // the most entries peers has held since it was last rebuilt
	swept time.Time
	// filed counts the peer changes since sipgo's read loop started: its own set holds at most
	// that many addresses. recycle asks the next ReadFrom to end the loop.
	filed   int
	recycle bool
}

// recycleAfter is the fewest peer changes after which sipgo's read loop is recycled.
const recycleAfter = 4096

// udpPeerExpiry is how long a silent UDP peer keeps its entries.
const udpPeerExpiry = 5 * time.Minute

func newListenerConn(c *net.UDPConn, pool *sip.ConnectionPool) *listenerConn {
	return &listenerConn{UDPConn: c, pool: pool, peers: map[string]time.Time{}, now: time.Now}
}

// sweep forgets the peers silent for udpPeerExpiry, except the last one (sipgo would not file it
// again on its next datagram). A Go map keeps its room after deletes: once a flood has gone,
// peers is rebuilt at its new size.
func (c *listenerConn) sweep(now time.Time) {
	c.swept = now
	last := c.last.String()
	for addr, seen := range c.peers {
		if addr != last && now.Sub(seen) > udpPeerExpiry {
			delete(c.peers, addr)
			c.pool.Delete(addr)
		}
	}
	if c.peak > 1024 && len(c.peers) < c.peak/4 {
		fresh := make(map[string]time.Time, len(c.peers))
		for addr, seen := range c.peers {
			fresh[addr] = seen
		}
		c.peers, c.peak = fresh, len(fresh)
	}
	// Once a minute at most, sipgo's set goes too if it may hold many more than the live peers.
	if c.filed > 2*len(c.peers)+64 {
		c.recycle = true
	}
}

// endLoop files the live peers and the listener's own address under a stand-in for the listener
// on the same socket, which the cleanup at the end of sipgo's read loop does not delete, and
// makes it the connection returning peers are filed under.
func (c *listenerConn) endLoop() {
	standIn := &sip.UDPConnection{PacketConn: c.UDPConn, PacketAddr: c.LocalAddr().String(), Listener: true}
	c.pool.Add(standIn.PacketAddr, standIn)
	for addr := range c.peers {
		c.pool.Add(addr, standIn)
	}
	var sc sip.Connection = standIn
	c.self.Store(&sc)
}

// stop makes the read loop hand over and end; it does not wait for it.
func (c *listenerConn) stop() {
	c.stopping.Store(true)
	_ = c.UDPConn.SetReadDeadline(time.Now())
}

// ReadFrom is called by sipgo's one read loop only. It returns each datagram, a read error, or,
// after stop, net.ErrClosed (which ends sipgo's read loop quietly); datagrams that arrive after
// stop are dropped.
func (c *listenerConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.recycle && !c.stopping.Load() {
		// Recycle sipgo's read loop (see listenerConn); Start's goroutine serves again.
		c.recycle, c.filed = false, 0
		c.endLoop()
		return 0, nil, net.ErrClosed
	}
	if !c.stopping.Load() {
		n, from, err := c.UDPConn.ReadFrom(b)
		if c.stopping.Load() {
			return c.handOver()
		}
		if err != nil {
			return n, from, err
		}
		// Remember the peer under sipgo's own key for it (raddr.String()), formatted only when
		// the peer changes. Sweep at most once a minute, also while one peer does all the talking.
		now := c.now()
		if a, ok := from.(*net.UDPAddr); ok && a.AddrPort() != c.last {
			c.last = a.AddrPort()
			key := from.String()
			if _, known := c.peers[key]; !known {
				if self := c.self.Load(); self != nil {
					c.pool.Add(key, *self)
				}
			}
			c.peers[key] = now
			c.peak = max(c.peak, len(c.peers))
			if c.filed++; c.filed > max(recycleAfter, 2*len(c.peers)) {
				c.recycle = true
			}
		}
		if now.Sub(c.swept) > time.Minute {
			c.sweep(now)
		}
		return n, from, nil
	}
	return c.handOver()
}

// handOver ends the read loop after stop: the listener's pool entries go to a stand-in on the
// same socket (Close says why), and net.ErrClosed ends sipgo's read loop quietly.
func (c *listenerConn) handOver() (int, net.Addr, error) {
	c.endLoop()
	return 0, nil, net.ErrClosed
}

// fromListener sends every UDP request, in-dialog ones (BYE, re-INVITE, ACK) included, from the
// listening socket. sipgo's dialogs skip the client's connection address and would otherwise open
// a new ephemeral socket per request: wrong for NAT, and a socket nobody closes.
type fromListener struct {
	tx     *sip.TransactionLayer
	laddr  sip.Addr
	closed *atomic.Bool
}

// Request implements sipgo.ClientTransactionRequester.
func (f fromListener) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if f.closed.Load() {
		return nil, errClosed
	}
	if strings.EqualFold(req.Transport(), "UDP") {
		if req.Laddr.IP == nil {
			f.laddr.Copy(&req.Laddr)
		}
	} else if req.Laddr.Port == f.laddr.Port && req.Laddr.IP.Equal(f.laddr.IP) {
		// TCP and TLS connections to registrars are dialed from an ephemeral port: the listening
		// port is taken by our own TCP listener. Go's dialer turns TCP keepalive on (15 s).
		req.Laddr = sip.Addr{}
	}
	if req.IsAck() {
		return nil, f.tx.Transport().WriteMsg(req)
	}
	tx, err := f.tx.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// headerParsers are sipgo's header parsers without those of Refer-To and Referred-By: sipgo drops
// a whole message whose Refer-To it cannot parse, so a REFER with a malformed one would get no
// answer at all. Left as plain headers, callmgr parses them (internal/refer) and answers 400 with
// the reason.
func headerParsers() map[string]sip.HeaderParser {
	m := make(map[string]sip.HeaderParser)
	for k, v := range sip.DefaultHeadersParser() {
		if k != "refer-to" && k != "referred-by" {
			m[k] = v
		}
	}
	return m
}
