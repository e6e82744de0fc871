package sipua

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Limits on incoming TCP connections (issue 14: 2,000 idle connections were all held, each with
// sipgo's 64 KiB read buffer, and an Accept error such as EMFILE stopped TCP serving for good).
const (
	// MaxTCPConns is how many accepted connections may be open at once; more are closed at once.
	MaxTCPConns = 128
	// MaxTCPConnsPerIP is how many of them one peer address may hold.
	MaxTCPConnsPerIP = 16
	// TCPFirstByteTimeout is how long an accepted connection may stay silent before its first
	// byte.
	TCPFirstByteTimeout = 10 * time.Second
	// TCPIdleTimeout is how long an accepted connection may stay silent after that (RFC 5626
	// keepalives come every 2 minutes or so).
	TCPIdleTimeout = 5 * time.Minute
)

// guardedListener is the TCP listener as sipgo's accept loop sees it: it caps the open
// connections (in total and per peer address), gives each a read deadline that moves with the
// data (first byte, then idle), and keeps accepting through errors such as EMFILE (running out
// of file descriptors), which would otherwise end sipgo's accept loop for good.
type guardedListener struct {
	net.Listener
	log              *slog.Logger
	firstByte, idle  time.Duration
	maxConns, maxPer int
	closed           atomic.Bool

	mu     sync.Mutex
	open   int
	perIP  map[netip.Addr]int
	silent map[*guardedConn]struct{} // open connections that have sent nothing yet

	refused  atomic.Uint64 // connections closed because of the caps
	lastWarn atomic.Int64  // UnixNano of the last warning (one per 10 s)
}

func newGuardedListener(l net.Listener, log *slog.Logger) *guardedListener {
	return &guardedListener{Listener: l, log: log, firstByte: TCPFirstByteTimeout, idle: TCPIdleTimeout,
		maxConns: MaxTCPConns, maxPer: MaxTCPConnsPerIP, perIP: map[netip.Addr]int{},
		silent: map[*guardedConn]struct{}{}}
}

// Accept returns the next connection within the caps. It returns an error only once the listener
// is closed; other errors are logged (at most every 10 s) and retried after a pause that grows
// from 5 ms to 1 s, as net/http's server does.
func (g *guardedListener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			if g.closed.Load() || errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			g.warn("SIP TCP accept failed; retrying", "error", err, "pause", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		var ip netip.Addr
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.AddrPort().Addr().Unmap()
		}
		gc := &guardedConn{Conn: c, g: g, ip: ip, accepted: time.Now()}
		g.mu.Lock()
		var evict *guardedConn
		if g.open >= g.maxConns {
			// Make room by closing the oldest connection that has sent nothing yet: a flood of
			// silent connections from many addresses must not lock everyone else out.
			for s := range g.silent {
				if evict == nil || s.accepted.Before(evict.accepted) {
					evict = s
				}
			}
			if evict != nil {
				delete(g.silent, evict)
			}
		}
		full := g.perIP[ip] >= g.maxPer || (g.open >= g.maxConns && evict == nil)
		if !full {
			g.open++
			g.perIP[ip]++
			g.silent[gc] = struct{}{}
		}
		g.mu.Unlock()
		if evict != nil {
			_ = evict.Conn.SetReadDeadline(time.Now()) // its reader sees io.EOF and closes it
		}
		if full {
			g.refused.Add(1)
			g.warn("too many SIP TCP connections: closing new ones", "from", ip, "open_max", g.maxConns,
				"per_address_max", g.maxPer, "refused", g.refused.Load())
			_ = c.Close()
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(g.firstByte))
		return gc, nil
	}
}

// Close stops Accept.
func (g *guardedListener) Close() error {
	g.closed.Store(true)
	return g.Listener.Close()
}

// Open returns how many accepted connections are open.
func (g *guardedListener) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func (g *guardedListener) release(c *guardedConn) {
	ip := c.ip
	g.mu.Lock()
	delete(g.silent, c)
	g.open--
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip)
	}
	g.mu.Unlock()
}

func (g *guardedListener) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := g.lastWarn.Load()
	if now-last < int64(10*time.Second) || !g.lastWarn.CompareAndSwap(last, now) {
		return
	}
	g.log.Warn(msg, args...)
}

// guardedConn is one accepted connection: each read moves its deadline by the idle timeout, a
// connection silent for longer reads as closed (io.EOF, which sipgo logs at debug level only),
// and closing it frees its place under the caps once.
type guardedConn struct {
	net.Conn
	g        *guardedListener
	ip       netip.Addr
	accepted time.Time
	spoke    bool // read goroutine only: a byte has arrived
	once     sync.Once
}

func (c *guardedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if !c.spoke {
			c.spoke = true
			c.g.mu.Lock()
			_, still := c.g.silent[c]
			delete(c.g.silent, c)
			c.g.mu.Unlock()
			if !still {
				// Evicted while this read was under way.
				return 0, io.EOF
			}
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.g.idle))
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, io.EOF // sipgo then closes the connection
	}
	return n, err
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.g.release(c) })
	return c.Conn.Close()
}
