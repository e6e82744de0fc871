package callmgr

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/siptest/kamailio"
	"trayphone/internal/sipua"
)

// TestHostileNetwork is issue 14's hostile network in one run against a phone registered at a real
// Kamailio: a sipvicious-style scanner flood (OPTIONS, INVITE and REGISTER for many users, from
// many From addresses), 3,000 UDP source addresses (127.2.x.y) and 600 TCP connections from 60
// addresses (127.3.0.x). Afterwards the phone must still answer OPTIONS (over UDP and TCP),
// register again, ring for a real call from baresip through Kamailio and carry its audio cleanly
// both ways while strangers throw garbage, well-formed RTP and RTCP (a BYE included) and STUN at
// every media port; no stranger may get audio (no latching), memory and descriptors must come
// back within bounds (below).
func TestHostileNetwork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("binds 127.x.y.z source addresses and counts /proc/self/fd")
	}
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{})
	bob := registeredBob(t, k)
	// The call's RTP and RTCP ports are in this range of three pairs, and the strangers send to
	// every one of them.
	const rtpBase, rtpTop = 47300, 47305
	a := startAccountCoreOn(t, k, "udp", "alice", "alicepw", 604, func(c *Config) {
		c.RTPPortMin, c.RTPPortMax = rtpBase, rtpTop
	})
	phoneAddr := fmt.Sprintf("127.0.0.1:%d", a.ua.Port)
	contacts, err := k.Contacts("alice")
	if err != nil || len(contacts) != 1 {
		t.Fatalf("alice's binding at Kamailio: %v, %v", contacts, err)
	}
	// Kamailio's way in: the registered Contact (with its token), which the phone admits.
	admitted := strings.Trim(contacts[0].Address, "<>")

	// Baseline, after the phone has settled (registered, one OPTIONS answered).
	if codes := hostileOptions(t, "udp", phoneAddr, admitted, "warmup"); len(codes) == 0 || codes[0] != 200 {
		t.Fatalf("OPTIONS through the registered Contact before the floods: %v, want 200", codes)
	}
	heap0, fd0 := heapAndFDs(t)

	// 1. The scanner: 30 sockets, each OPTIONS, INVITE and REGISTER to 10 users.
	var answers, twoXX atomic.Int32
	var wg sync.WaitGroup
	for s := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			to, _ := net.ResolveUDPAddr("udp", phoneAddr)
			for u := range 10 {
				for _, method := range []string{"OPTIONS", "INVITE", "REGISTER"} {
					_, _ = conn.WriteToUDP([]byte(scannerRequest(method, conn.LocalAddr().String(), phoneAddr, 100+s*10+u)), to)
				}
				time.Sleep(2 * time.Millisecond)
			}
			buf := make([]byte, 4096)
			for {
				_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				n, _, err := conn.ReadFromUDP(buf)
				if err != nil {
					return
				}
				if c, ok := statusCode(buf[:n]); ok && c >= 200 {
					answers.Add(1)
					if c < 300 {
						twoXX.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("scanner: 900 requests, %d final answers, %d of them 2xx", answers.Load(), twoXX.Load())
	if twoXX.Load() > 0 {
		t.Errorf("the scanner got %d 2xx answers, want none", twoXX.Load())
	}
	if st := a.mgr.Status(); len(st.Calls) != 0 {
		t.Errorf("the scanner made calls: %+v", st.Calls)
	}

	// 2. 3,000 UDP source addresses, each a keepalive and an OPTIONS (unanswered: a scanner).
	to, _ := net.ResolveUDPAddr("udp", phoneAddr)
	for i := range 3000 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 2, byte(i/250), byte(i%250+1))})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.WriteToUDP([]byte("\r\n\r\n"), to)
		_, _ = c.WriteToUDP([]byte(scannerRequest("OPTIONS", c.LocalAddr().String(), phoneAddr, i)), to)
		c.Close()
		if i%200 == 199 {
			time.Sleep(5 * time.Millisecond) // a flood, but not one the socket buffer drops
		}
	}

	// 3. 600 idle TCP connections from 60 addresses; OPTIONS over TCP still answered meanwhile.
	var flood []net.Conn
	for i := range 600 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 3, 0, byte(i/10+1))}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", phoneAddr)
		if err != nil {
			continue // refused at once: fine
		}
		flood = append(flood, c)
	}
	if codes := hostileOptions(t, "tcp", phoneAddr, admitted, "during-tcp-flood"); len(codes) == 0 || codes[0] != 200 {
		t.Errorf("OPTIONS over TCP during the TCP flood: %v, want 200", codes)
	}
	open := 0
	for _, c := range flood {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && os.IsTimeout(err) {
			open++ // still held by the phone
		}
		c.Close()
	}
	t.Logf("TCP flood: %d of 600 connected, %d still held by the phone (cap %d)", len(flood), open, sipua.MaxTCPConns)
	if open > sipua.MaxTCPConns {
		t.Errorf("the phone held %d flood connections, want at most %d", open, sipua.MaxTCPConns)
	}

	// Afterwards: OPTIONS over both transports, a fresh REGISTER, a real call.
	for _, tr := range []string{"udp", "tcp"} {
		if codes := hostileOptions(t, tr, phoneAddr, admitted, "after-"+tr); len(codes) == 0 || codes[0] != 200 {
			t.Errorf("OPTIONS over %s after the floods: %v, want 200", tr, codes)
		}
	}
	regs := k.Requests("REGISTER")
	if err := a.set.Kick("test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for k.Requests("REGISTER") == regs && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if k.Requests("REGISTER") == regs {
		t.Errorf("no REGISTER reached Kamailio within 5 s of the kick after the floods")
	}
	a.waitAccount(5*time.Second, phone.RegRegistered)

	// The real call, with strangers at every media port while it runs.
	bobCalls(t, bob, a.core, "sip:alice@"+k.Domain())
	strangers := startStrangers(t, rtpBase, rtpTop)
	time.Sleep(3 * time.Second)
	got := strangers.stop()
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("strangers: %d datagrams sent, %d RTP datagrams came back, %d STUN", got.sent, got.rtp, got.stun)
	if got.rtp > 0 {
		t.Errorf("strangers received %d RTP datagrams: the phone latched onto one of them", got.rtp)
	}

	// Bounds. Memory: what the floods may leave for a while is sipgo's transactions (Timer J
	// and H: 32 s; about 5 KiB each, 1,800 at most here: the scanner's INVITEs and REGISTERs
	// and the unanswered OPTIONS leave none) and the UDP peers of the last 5 minutes (3,030
	// here, a few hundred bytes each across our set, sipgo's pool and its read loop's set):
	// together under 12 MiB, and nothing per TCP connection once closed. Descriptors: the
	// flood's connections are closed, the call's RTP and RTCP sockets too.
	heap1, fd1 := heapAndFDs(t)
	t.Logf("heap %d -> %d KiB (%+d), descriptors %d -> %d", heap0/1024, heap1/1024, (int64(heap1)-int64(heap0))/1024, fd0, fd1)
	if grown := int64(heap1) - int64(heap0); grown > 12<<20 {
		t.Errorf("heap grew by %d KiB after the floods and the call, want under 12 MiB", grown/1024)
	}
	deadline = time.Now().Add(3 * time.Second)
	for fd1 > fd0+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		_, fd1 = heapAndFDs(t)
	}
	if fd1 > fd0+2 {
		t.Errorf("open descriptors: %d before the floods, %d after, want at most 2 more", fd0, fd1)
	}
	a.stop()
	checkTone(t, a.out, 1004, 35)
	checkTone(t, bob.RecordedReceived(), 604, 35)
}

// heapAndFDs is the live heap after a collection and the count of this process's descriptors.
func heapAndFDs(t *testing.T) (uint64, int) {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return m.HeapAlloc, len(ents)
}

// scannerRequest is what sipvicious' svmap/svwar send: a request for user n, From a made-up
// user, with the scanner's User-Agent.
func scannerRequest(method, src, dst string, n int) string {
	ruri := fmt.Sprintf("sip:%d@%s", n, dst)
	body, ctype := "", ""
	if method == "INVITE" {
		body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
		ctype = "Content-Type: application/sdp\r\n"
	}
	return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%d-%s;rport\r\n"+
		"From: \"%d\" <sip:%d@%s>;tag=scan%d\r\nTo: \"%d\" <%s>\r\nCall-ID: scan-%s-%d-%s\r\nCSeq: 1 %s\r\n"+
		"Contact: <sip:%d@%s>\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nAccept: application/sdp\r\n%s"+
		"Content-Length: %d\r\n\r\n%s",
		method, ruri, src, n, method, n+1, n+1, src, n, n, ruri, method, n, src, method, n, src, ctype, len(body), body)
}

// hostileOptions sends OPTIONS to uri (the phone's registered Contact) over transport and
// returns the final statuses.
func hostileOptions(t *testing.T, transport, dst, uri, id string) []int {
	t.Helper()
	c, err := net.Dial(transport, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := fmt.Sprintf("OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-%s;rport\r\n"+
		"From: <sip:kamailio@127.0.0.1>;tag=%s\r\nTo: <%s>\r\nCall-ID: hostile-%s\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 69\r\nContent-Length: 0\r\n\r\n", uri, strings.ToUpper(transport), c.LocalAddr(), id, id, uri, id)
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if transport == "tcp" {
		return readStreamCodes(c, "hostile-"+id, 2*time.Second)
	}
	var codes []int
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if err != nil {
			return codes
		}
		if code, ok := statusCode(buf[:n]); ok && callID(buf[:n]) == "hostile-"+id {
			codes = append(codes, code)
			if code >= 200 {
				return codes
			}
		}
	}
}

// strangers send what strangers send to a phone's media ports during a call, and count what
// comes back.
type strangers struct {
	stopC chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	got   strangerCounts
}

type strangerCounts struct{ sent, rtp, stun int }

// startStrangers starts three strangers (127.4.0.1-3) sending, to every port from lo to hi, about
// 50 datagrams a second each: random garbage, well-formed RTP of several payload types with
// their own SSRC and loud payloads, RTCP sender reports and BYEs, and STUN binding requests.
func startStrangers(t *testing.T, lo, hi int) *strangers {
	t.Helper()
	s := &strangers{stopC: make(chan struct{})}
	for i := range 3 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 4, 0, byte(i+1))})
		if err != nil {
			t.Fatal(err)
		}
		s.wg.Add(2)
		go func() { // reader: counts RTP and STUN coming back
			defer s.wg.Done()
			buf := make([]byte, 2048)
			for {
				n, _, err := conn.ReadFromUDP(buf)
				if err != nil {
					return
				}
				s.mu.Lock()
				switch {
				case n >= 12 && buf[0]>>6 == 2 && (buf[1]&0x7f < 64 || buf[1]&0x7f > 95):
					s.got.rtp++
				case n >= 20 && binary.BigEndian.Uint32(buf[4:8]) == 0x2112A442:
					s.got.stun++
				}
				s.mu.Unlock()
			}
		}()
		go func() { // sender
			defer s.wg.Done()
			defer conn.Close()
			rng := rand.New(rand.NewPCG(uint64(i), 14))
			ssrc := rng.Uint32()
			var seq uint16
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-s.stopC:
					_ = conn.SetReadDeadline(time.Now())
					return
				case <-tick.C:
				}
				var b []byte
				switch n % 5 {
				case 0:
					b = make([]byte, 1+rng.IntN(300))
					for j := range b {
						b[j] = byte(rng.Uint32())
					}
				case 1, 2:
					seq++
					payload := make([]byte, 160)
					for j := range payload {
						payload[j] = byte(j%2) * 0x80 // full-scale square wave in G.711
					}
					pt := []uint8{0, 8, 9, 96, 101, 111}[n%6]
					b, _ = (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq,
						Timestamp: uint32(seq) * 160, SSRC: ssrc}, Payload: payload}).Marshal()
				case 3:
					b, _ = rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: ssrc, NTPTime: uint64(n) << 32,
						Reports: []rtcp.ReceptionReport{{SSRC: rng.Uint32(), FractionLost: 255, Jitter: 1 << 20}}},
						&rtcp.Goodbye{Sources: []uint32{ssrc, rng.Uint32()}}})
				case 4:
					b = make([]byte, 20)
					binary.BigEndian.PutUint16(b[0:2], 0x0001) // Binding request
					binary.BigEndian.PutUint32(b[4:8], 0x2112A442)
					for j := 8; j < 20; j++ {
						b[j] = byte(rng.Uint32())
					}
				}
				for port := lo; port <= hi; port++ {
					if _, err := conn.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
						s.mu.Lock()
						s.got.sent++
						s.mu.Unlock()
					}
				}
			}
		}()
	}
	return s
}

// stop ends the strangers and returns what they counted.
func (s *strangers) stop() strangerCounts {
	close(s.stopC)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}
