package callmgr

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestIncomingRingTimeout: an incoming call nobody answers ends after the ring timeout with 480
// for the caller and a missed call for the user.
func TestIncomingRingTimeout(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{ringIn: time.Second})
	if _, err := a.mgr.Call(ctx(t), fmt.Sprintf("sip:bob@%s", b.ua.SelfAddr()), ""); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallIncoming)
	start := time.Now()
	ended := b.waitState(5*time.Second, phone.CallEnded)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the unanswered call rang for %v, want about 1 s", took)
	}
	if ended.EndReason != "missed" {
		t.Errorf("callee's end reason %q, want missed", ended.EndReason)
	}
	caller := a.waitState(5*time.Second, phone.CallEnded)
	if !strings.Contains(caller.EndReason, "480") && !strings.Contains(strings.ToLower(caller.EndReason), "unavailable") {
		t.Errorf("caller's end reason %q, want the 480", caller.EndReason)
	}
}

// rawInvite sends an INVITE for user from a UDP socket bound to ip and returns the socket and the
// first final-or-180 status line that comes back.
func rawInvite(t *testing.T, c *core, ip, user string, n int) (*net.UDPConn, string) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	src := conn.LocalAddr().String()
	ruri := fmt.Sprintf("sip:%s@%s", user, c.ua.SelfAddr())
	body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-flood%d;rport\r\n"+
		"From: <sip:flood@%s>;tag=fl%d\r\nTo: <%s>\r\nCall-ID: flood-%d@%s\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:flood@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", ruri, src, n, ip, n, ruri, n, ip, src, len(body), body)
	if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(c.ua.SelfAddr())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		m, _, err := conn.ReadFrom(buf)
		if err != nil {
			return conn, "no answer"
		}
		line := strings.SplitN(string(buf[:m]), "\r\n", 2)[0]
		if !strings.HasPrefix(line, "SIP/2.0 100") {
			return conn, line
		}
	}
}

// TestRingingPerSource: INVITEs that are never cancelled (issue 14: four of them made every
// later caller get 486 forever) may keep at most two lines ringing per address, and end with the
// ring timeout; callers from elsewhere still ring.
func TestRingingPerSource(t *testing.T) {
	checkGoroutines(t)
	b := startCore(t, "bob", coreOpts{callWaiting: true, ringIn: 1500 * time.Millisecond})
	for i, want := range []string{"180", "180", "486"} {
		if _, got := rawInvite(t, b, "127.0.0.2", "bob", i); !strings.HasPrefix(got, "SIP/2.0 "+want) {
			t.Errorf("INVITE %d from 127.0.0.2: got %q, want %s", i+1, got, want)
		}
	}
	if _, got := rawInvite(t, b, "127.0.0.3", "bob", 10); !strings.HasPrefix(got, "SIP/2.0 180") {
		t.Errorf("INVITE from 127.0.0.3 while 127.0.0.2 rings twice: got %q, want 180", got)
	}
	time.Sleep(3 * time.Second) // the ring timeout ends them all
	if st := b.mgr.Status(); len(st.Calls) != 0 {
		t.Errorf("calls still there after the ring timeout: %+v", st.Calls)
	}
	if _, got := rawInvite(t, b, "127.0.0.2", "bob", 20); !strings.HasPrefix(got, "SIP/2.0 180") {
		t.Errorf("INVITE from 127.0.0.2 after the ring timeout: got %q, want 180", got)
	}
}

// TestEchoCallsBounded: echo tests from loopback skip admission; at most maxEchoCalls run at once.
func TestEchoCallsBounded(t *testing.T) {
	checkGoroutines(t)
	b := startCore(t, "bob", coreOpts{})
	var got []string
	for i := range maxEchoCalls + 1 {
		_, line := rawInvite(t, b, "127.0.0.1", EchoTarget, 30+i)
		got = append(got, line)
	}
	for i, line := range got {
		want := "SIP/2.0 200"
		if i == maxEchoCalls {
			want = "SIP/2.0 486"
		}
		if !strings.HasPrefix(line, want) {
			t.Errorf("echo INVITE %d: got %q, want %s", i+1, line, want)
		}
	}
}

// TestRejectedFloodLogsLittle: 200 INVITEs refused under do-not-disturb (a SIPp flood wrote one
// log line each, issue 14) make a line or two.
func TestRejectedFloodLogsLittle(t *testing.T) {
	checkGoroutines(t)
	var logBuf lockedBuffer
	b := startCore(t, "bob", coreOpts{dnd: true, logTo: &logBuf})
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().String()
	ruri := fmt.Sprintf("sip:bob@%s", b.ua.SelfAddr())
	for i := range 200 {
		msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-fl%d;rport\r\n"+
			"From: <sip:flood@127.0.0.1>;tag=f%d\r\nTo: <%s>\r\nCall-ID: flood-log-%d\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:flood@%s>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", ruri, src, i, i, ruri, i, src)
		if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(b.ua.SelfAddr())); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	n := strings.Count(logBuf.String(), "do not disturb")
	t.Logf("log lines for 200 refused INVITEs: %d", n)
	if n > 2 {
		t.Errorf("200 refused INVITEs wrote %d log lines, want one or two", n)
	}
}

// lockedBuffer is a strings.Builder safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
