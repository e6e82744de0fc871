package sipua

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// startOptionsUA starts a user agent on loopback that answers OPTIONS with 200.
func startOptionsUA(t *testing.T, before ...func(*UA)) *UA {
	t.Helper()
	ua, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range before {
		f(ua)
	}
	ua.Server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return ua
}

func optionsMsg(transport, from string, port int, n int) string {
	return fmt.Sprintf("OPTIONS sip:x@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-o%d;rport\r\n"+
		"From: <sip:t@127.0.0.1>;tag=t%d\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: opt-%d-%s\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", port, transport, from, n, n, n, transport)
}

// tcpOptions sends OPTIONS over a new TCP connection and reports whether 200 came back.
func tcpOptions(t *testing.T, port int) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(optionsMsg("TCP", c.LocalAddr().String(), port, 1))); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer over TCP: %w", err)
	}
	if !strings.HasPrefix(line, "SIP/2.0 200") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

// udpOptions sends OPTIONS from conn and reports whether 200 came back.
func udpOptions(t *testing.T, conn *net.UDPConn, port, n int) error {
	t.Helper()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	if _, err := conn.WriteToUDP([]byte(optionsMsg("UDP", conn.LocalAddr().String(), port, n)), to); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	m, _, err := conn.ReadFromUDP(buf)
	if err != nil {
		return fmt.Errorf("no answer over UDP: %w", err)
	}
	if !strings.HasPrefix(string(buf[:m]), "SIP/2.0 200") {
		return fmt.Errorf("answer %q", strings.SplitN(string(buf[:m]), "\r\n", 2)[0])
	}
	return nil
}

// ownSocketFDs counts this process's open sockets.
func ownSocketFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// TestTCPFlood opens 2,000 idle TCP connections to the SIP port, as the attack of issue 14 did:
// the phone must hold at most MaxTCPConns of them (the rest are closed at once), close the silent
// ones after the first-byte timeout, keep its memory bounded and still answer OPTIONS over TCP
// and UDP throughout.
func TestTCPFlood(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc")
	}
	ua := startOptionsUA(t, func(ua *UA) { setTCPTimeouts(ua, 2*time.Second, 2*time.Second) })
	base := ownSocketFDs(t)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const n = 2000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		// From 200 addresses (10 each), so that neither the per-address cap alone nor the
		// address of the test's own OPTIONS (127.0.0.1) decides the outcome.
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%200))}}
		c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ua.Port))
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond)
	if err := tcpOptions(t, ua.Port); err != nil {
		t.Errorf("OPTIONS over TCP during the flood: %v", err)
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if err := udpOptions(t, udp, ua.Port, 1); err != nil {
		t.Errorf("OPTIONS over UDP during the flood: %v", err)
	}
	// The server side of the held connections: sockets beyond the test's own 2,000 + base.
	held := ownSocketFDs(t) - base - n - 1
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	t.Logf("server sockets held with %d connections open: %d; heap %d → %d KiB", n, held,
		before.HeapInuse>>10, during.HeapInuse>>10)
	if held > MaxTCPConns+8 {
		t.Errorf("the phone holds %d sockets for %d idle connections, want at most %d", held, n, MaxTCPConns)
	}
	if grow := int64(during.HeapInuse) - int64(before.HeapInuse); grow > 20<<20 {
		t.Errorf("heap grew by %d MiB with the connections open, want under 20", grow>>20)
	}

	// Silent connections are closed after the first-byte timeout: each client sees EOF.
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	for _, c := range conns {
		wg.Add(1)
		go func() { // returns when the read ends: EOF, reset, or the deadline
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			_, err := c.Read(make([]byte, 1))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				mu.Lock()
				open++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if open != 0 {
		t.Errorf("%d of %d silent connections still open after 10 s (first-byte timeout 2 s)", open, n)
	}
	if err := tcpOptions(t, ua.Port); err != nil {
		t.Errorf("OPTIONS over TCP after the flood: %v", err)
	}
}

// failingListener fails Accept with EMFILE a few times before passing connections on.
type failingListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (f *failingListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return f.Listener.Accept()
}

// TestAcceptSurvivesEMFILE: running out of file descriptors for a moment must not stop TCP
// serving for good.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	ua := startUAWithListener(t, func(l net.Listener) net.Listener { return &failingListener{Listener: l, fails: 5} })
	if err := tcpOptions(t, ua.Port); err != nil {
		t.Errorf("OPTIONS over TCP after EMFILE: %v", err)
	}
}

// TestUDPPeersExpire: every UDP source address the phone hears from leaves state behind; state
// of peers silent for longer than any transaction lives must go, and a returning peer must still
// be answered.
func TestUDPPeersExpire(t *testing.T) {
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Now()
	ua := startOptionsUA(t, func(ua *UA) {
		setUDPClock(ua, func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now })
	})
	pool := ua.UA.TransportLayer().Pool("udp")
	base := pool.Size()
	first, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := udpOptions(t, first, ua.Port, 0); err != nil {
		t.Fatal(err)
	}
	const sources = 500
	for i := range sources {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.WriteToUDP([]byte("\r\n\r\n"+strings.Repeat(" ", i%3)), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ua.Port})
		c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	grown := pool.Size() - base
	t.Logf("pool entries after %d sources: +%d", sources, grown)
	clock.Lock()
	clock.now = clock.now.Add(10 * time.Minute)
	clock.Unlock()
	// The first peer comes back after 10 minutes: it is answered, and the others are forgotten.
	if err := udpOptions(t, first, ua.Port, 1); err != nil {
		t.Errorf("a peer back after 10 minutes: %v", err)
	}
	if got := pool.Size() - base; got > 5 {
		t.Errorf("UDP pool entries 10 minutes after %d sources went silent: +%d, want a handful", sources, got)
	}
}

// TestGarbageFloodLogsLittle: 500 datagrams that are not SIP (a scanner flood) wrote 500 ERROR
// lines through the default logger (issue 14); now a line or two, on the phone's logger.
func TestGarbageFloodLogsLittle(t *testing.T) {
	var own, dflt syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&dflt, nil)))
	defer slog.SetDefault(old)
	ua, err := New(Config{Listen: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(&own, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 500 {
		_, _ = c.WriteToUDP([]byte(fmt.Sprintf("GARBAGE %d\r\n\r\n", i)), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ua.Port})
	}
	time.Sleep(500 * time.Millisecond)
	lines := strings.Count(own.String(), "\n") + strings.Count(dflt.String(), "\n")
	t.Logf("log lines for 500 garbage datagrams: %d", lines)
	if lines > 5 {
		t.Errorf("500 garbage datagrams wrote %d log lines, want a handful", lines)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUDPSourcesMemoryBounded: 20,000 UDP source addresses (127.1.x.y, as a spoofed flood from
// the internet would bring) each send one keepalive and go silent; ten minutes later 20,000 other
// ones do the same. The second flood must not grow the heap: the state the first left has
// expired and its room is reused (a Go map keeps its size after deletes, so the first flood's
// high-water mark stays; that is bounded by the sources within one expiry period, not by all
// there ever were). sipgo's read loop keeps a set of every source address it has filed in its
// pool, which nothing else reaches: it grew by about 80 bytes per source for good.
func TestUDPSourcesMemoryBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("binds 127.1.x.y, which only Linux routes to loopback without setup")
	}
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Now()
	// The barrier: a datagram the read goroutine hands to Intercept, in order with the flood.
	// (OPTIONS would do, but each leaves a server transaction for 32 s, which would be counted.)
	reached := make(chan struct{}, 1)
	ua, err := New(Config{Listen: "127.0.0.1:0", Intercept: func(b []byte, _ netip.AddrPort) bool {
		if string(b) == "barrier" {
			reached <- struct{}{}
			return true
		}
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	setUDPClock(ua, func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now })
	ua.Server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	first, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ua.Port}
	// Once the barrier from first has reached Intercept, the read loop has read every datagram
	// sent before it.
	barrier := func() {
		t.Helper()
		if _, err := first.WriteToUDP([]byte("barrier"), to); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reached:
		case <-time.After(5 * time.Second):
			t.Fatal("the barrier datagram did not arrive")
		}
	}
	flood := func(base byte, sources int) {
		t.Helper()
		for i := range sources {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, base, byte(i/250), byte(i%250+1))})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.WriteToUDP([]byte("\r\n\r\n"), to)
			c.Close()
			if i%100 == 99 {
				barrier()
			}
		}
		barrier()
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	fds := ownSocketFDs(t)
	const sources = 20000
	flood(1, sources)
	clock.Lock()
	clock.now = clock.now.Add(10 * time.Minute)
	clock.Unlock()
	barrier()
	barrier()
	before := heap()
	flood(2, sources)
	during := heap()
	clock.Lock()
	clock.now = clock.now.Add(10 * time.Minute)
	clock.Unlock()
	barrier()
	barrier()
	after := heap()
	t.Logf("heap: %d KiB after the first flood expired, %+d KiB with %d new sources filed, %+d KiB 10 minutes after they went silent",
		before/1024, (int64(during)-int64(before))/1024, sources, (int64(after)-int64(before))/1024)
	if grown := int64(after) - int64(before); grown > 256<<10 {
		t.Errorf("heap grew by %d KiB for %d new UDP sources silent for 10 minutes, want under 256 KiB", grown/1024, sources)
	}
	if err := udpOptions(t, first, ua.Port, 1); err != nil {
		t.Errorf("OPTIONS after the floods: %v", err)
	}
	// The read loop was recycled on the way (sipgo's own set): no socket was opened for it.
	if got := ownSocketFDs(t); got != fds {
		t.Errorf("sockets: %d before the floods, %d after, want the same", fds, got)
	}
}
