package sipua

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestCloseWithRequestInFlight: a request the listener has read but sipgo has not yet matched to
// a connection when Close runs must not make sipgo open a new UDP socket (sipgo v1.7.2 does, from
// an ephemeral port, and its reader goroutine then outlives the user agent). The read hook holds
// the listener's read loop until Close has emptied sipgo's connection pool, so the request's
// goroutine runs against the state Close leaves behind — what happens now and then when a peer's
// ACK races our shutdown.
func TestCloseWithRequestInFlight(t *testing.T) {
	res := closeRace(t, true)
	checkNoStray(t, res)
}

// TestCloseRacingRequests closes the user agent right after a request arrives, many times over:
// the natural form of the race above, without holding the read loop.
func TestCloseRacingRequests(t *testing.T) {
	for i := 0; i < 30; i++ {
		res := closeRace(t, false)
		checkNoStray(t, res)
		if t.Failed() {
			t.Fatalf("round %d", i)
		}
	}
}

type raceResult struct {
	port      int
	responses []netip.AddrPort // where the peer's responses came from
}

// closeRace starts a user agent, lets a peer send a keepalive and then an OPTIONS request, and
// closes the user agent as soon as its listener has read the request. With stall, the read hook
// keeps the listener from passing the request on until Close has cleared sipgo's pool (or 300 ms
// have passed: a Close that waits for the read loop never clears it while the hook holds it).
func closeRace(t *testing.T, stall bool) raceResult {
	t.Helper()
	var ua *UA
	var once sync.Once
	closed := make(chan struct{})
	closeUA := func() {
		once.Do(func() {
			go func() { ua.Close(); close(closed) }()
		})
	}
	ua, err := New(Config{Listen: "127.0.0.1:0", Intercept: func(b []byte, _ netip.AddrPort) bool {
		if !strings.HasPrefix(string(b), "OPTIONS ") {
			return false
		}
		closeUA()
		if stall {
			pool := ua.UA.TransportLayer().Pool("udp")
			for deadline := time.Now().Add(300 * time.Millisecond); pool.Size() > 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{})
	ua.Server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		close(handled)
	})
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ua.Port}
	pp := peer.LocalAddr().(*net.UDPAddr).Port
	// A keepalive first: sipgo's read loop then knows the peer and skips re-adding it to the pool
	// for the request that follows.
	if _, err := peer.WriteTo([]byte("\r\n\r\n"), to); err != nil {
		t.Fatal(err)
	}
	req := fmt.Sprintf("OPTIONS sip:x@127.0.0.1:%d SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\n"+
		"Call-ID: close-race-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", ua.Port, pp, pp, pp)
	if _, err := peer.WriteTo([]byte(req), to); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan struct{}{closed, handled} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("the request was never handled or Close never returned")
		}
	}
	res := raceResult{port: ua.Port}
	buf := make([]byte, 2048)
	for {
		// A response was written before the handler returned: on loopback it is queued already.
		peer.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		_, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		res.responses = append(res.responses, from)
	}
	return res
}

// checkNoStray fails t if a response left from a port other than the listener's, or if any of
// sipgo's transport goroutines is still running shortly after Close.
func checkNoStray(t *testing.T, res raceResult) {
	t.Helper()
	for _, from := range res.responses {
		if int(from.Port()) != res.port {
			t.Errorf("a response left from port %d, not the listener's %d", from.Port(), res.port)
		}
	}
	var left []string
	for i := 0; i < 40; i++ {
		if left = transportGoroutines(); len(left) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%d sipgo transport goroutine(s) still running after Close:\n%s", len(left), strings.Join(left, "\n\n"))
}

// transportGoroutines returns the stacks of goroutines running one of sipgo's socket readers.
func transportGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "sipgo/sip.(*Transport") && strings.Contains(g, ").read") {
			out = append(out, g)
		}
	}
	return out
}

// TestCloseRacingTCPRequests: a request read from a TCP connection just before Close must not
// make sipgo dial the request's Via address once Close has closed that connection (sipgo's
// fallback for answering a request whose connection is gone), which would leave a connection
// and its reader goroutine behind.
func TestCloseRacingTCPRequests(t *testing.T) {
	dialed := make(chan int, 20)
	for i := 0; i < 20; i++ {
		ua, err := New(Config{Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ua.Start(); err != nil {
			t.Fatal(err)
		}
		// The peer listens where its Via says it does, and connects to the phone from elsewhere.
		via, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer via.Close()
		go func(round int) { // ends when via is closed
			for {
				c, err := via.Accept()
				if err != nil {
					return
				}
				c.Close()
				dialed <- round
			}
		}(i)
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ua.Port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		vp := via.Addr().(*net.TCPAddr).Port
		req := fmt.Sprintf("OPTIONS sip:x@127.0.0.1:%d;transport=tcp SIP/2.0\r\n"+
			"Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bK-tcp-%d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\n"+
			"Call-ID: close-race-tcp-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", ua.Port, vp, i, i)
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i%5) * 100 * time.Microsecond) // vary where Close meets the request
		ua.Close()
	}
	time.Sleep(100 * time.Millisecond) // a late dial happens within microseconds of Close
	close(dialed)
	for round := range dialed {
		t.Errorf("round %d: the closed phone dialed the request's Via address", round)
	}
	checkNoStray(t, raceResult{})
}
