package sipua

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestIntercept: datagrams the Intercept hook claims never reach SIP parsing, others do, and
// SendUDP leaves from the listening port (so a STUN answer comes back through the hook).
func TestIntercept(t *testing.T) {
	got := make(chan string, 4)
	ua, err := New(Config{Listen: "127.0.0.1:0", Intercept: func(b []byte, from netip.AddrPort) bool {
		if strings.HasPrefix(string(b), "STUN") {
			got <- string(b) + " from " + from.Addr().String()
			return true
		}
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerAP := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := ua.SendUDP([]byte("hello"), peerAP); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if int(from.Port()) != ua.Port {
		t.Errorf("SendUDP left from port %d, want the listener's %d", from.Port(), ua.Port)
	}
	peer.WriteToUDPAddrPort([]byte("STUN answer"), from)
	peer.WriteToUDPAddrPort([]byte("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n"), from) // not claimed
	select {
	case s := <-got:
		if s != "STUN answer from 127.0.0.1" {
			t.Errorf("intercepted %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the hook never saw the datagram")
	}
	select {
	case s := <-got:
		t.Errorf("hook claimed a second datagram %q", s)
	case <-time.After(100 * time.Millisecond):
	}
}
