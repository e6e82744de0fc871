package callmgr

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/sipua"
)

// TestManagerSurvivesPanic: a panic in the call manager's work (a bug one request triggers) is
// logged and the phone goes on: it answers Status and places and receives calls.
func TestManagerSurvivesPanic(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{toneHz: 600})
	b.mgr.post(func() { panic("a bug in the call manager") })
	time.Sleep(100 * time.Millisecond)
	if err := b.mgr.do(ctx(t), func() error { return nil }); err != nil {
		t.Fatalf("the manager after a panic: %v", err)
	}
	established(t, a, b)
}

// TestHandlerPanicAnswered: a panic in a SIP request handler is answered with 500 and does not end
// the process.
func TestHandlerPanicAnswered(t *testing.T) {
	checkGoroutines(t)
	b := startCore(t, "bob", coreOpts{beforeStart: func(ua *sipua.UA, m *Manager) {
		ua.Server.OnNotify(m.guard(func(*sip.Request, sip.ServerTransaction) { panic("a bug in a handler") }))
	}})
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().String()
	msg := fmt.Sprintf("NOTIFY sip:bob@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-n1;rport\r\n"+
		"From: <sip:x@127.0.0.1>;tag=n1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: notify-1\r\nCSeq: 1 NOTIFY\r\n"+
		"Event: foo\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", b.ua.SelfAddr(), src)
	if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(b.ua.SelfAddr())); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if line := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]; !strings.HasPrefix(line, "SIP/2.0 500") {
		t.Errorf("got %q, want 500", line)
	}
}
