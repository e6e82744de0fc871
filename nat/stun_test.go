package nat

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"trayphone/internal/siptest/coturn"
)

// rfc5769IPv4Response is the sample IPv4 response of RFC 5769 section 2.2.
var rfc5769IPv4Response = []byte("\x01\x01\x00\x3c" +
	"\x21\x12\xa4\x42" +
	"\xb7\xe7\xa7\x01\xbc\x34\xd6\x86\xfa\x87\xdf\xae" +
	"\x80\x22\x00\x0b" +
	"\x74\x65\x73\x74\x20\x76\x65\x63\x74\x6f\x72\x20" +
	"\x00\x20\x00\x08" +
	"\x00\x01\xa1\x47\xe1\x12\xa6\x43" +
	"\x00\x08\x00\x14" +
	"\x2b\x91\xf5\x99\xfd\x9e\x90\xc3\x8c\x74\x89\xf9" +
	"\x2a\xf9\xba\x53\xf0\x6b\xe7\xd7" +
	"\x80\x28\x00\x04" +
	"\xc0\x7d\x4c\x96")

func TestParseResponseRFC5769(t *testing.T) {
	r, id, ok := ParseResponse(rfc5769IPv4Response)
	if !ok {
		t.Fatal("the RFC 5769 response did not parse")
	}
	if want := netip.MustParseAddrPort("192.0.2.1:32853"); r.Mapped != want {
		t.Errorf("mapped: got %v, want %v", r.Mapped, want)
	}
	if id[0] != 0xb7 || id[11] != 0xae {
		t.Errorf("transaction id: got %x", id)
	}
}

func TestIsSTUN(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"rfc5769 response", rfc5769IPv4Response, true},
		{"binding indication", BindingIndication(), true},
		{"sip", []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n"), false},
		{"crlf keepalive", []byte("\r\n\r\n"), false},
		{"rtp", append([]byte{0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42}, make([]byte, 160)...), false},
		{"short", []byte{0, 1}, false},
	} {
		if got := IsSTUN(c.b); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestProberSharedSocket runs a binding request over a socket that another reader owns (as the SIP
// listener is read by sipgo): the owner hands datagrams to Handle, STUN is consumed, the rest is not.
func TestProberSharedSocket(t *testing.T) {
	srv := coturn.Start(t, coturn.Options{})
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	p := NewProber(PacketSender(conn), nil)
	others := make(chan string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeConn(ctx, conn, p, func(b []byte, _ netip.AddrPort) { others <- string(b) }) }()

	// Something that is not STUN still reaches the owner.
	peer, _ := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	defer peer.Close()
	peer.WriteTo([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n"), conn.LocalAddr())

	bctx, bcancel := context.WithTimeout(ctx, 5*time.Second)
	defer bcancel()
	r, err := p.Bind(bctx, srv.Addr())
	if err != nil {
		t.Fatalf("bind: %v\n%s", err, srv.Log())
	}
	if want := conn.LocalAddr().(*net.UDPAddr).AddrPort(); r.Mapped != want {
		t.Errorf("mapped: got %v, want %v", r.Mapped, want)
	}
	select {
	case s := <-others:
		if s[:7] != "OPTIONS" {
			t.Errorf("owner got %q, want the OPTIONS", s)
		}
	case <-time.After(2 * time.Second):
		t.Error("the non-STUN datagram did not reach the socket's owner")
	}
	if len(others) != 0 {
		t.Errorf("the owner got %d more datagrams (STUN must be consumed)", len(others))
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("ServeConn: got %v, want context.Canceled", err)
	}
}

// TestDiscoverNoNAT runs RFC 5780 discovery against coturn with two addresses on loopback: no NAT.
func TestDiscoverNoNAT(t *testing.T) {
	srv := coturn.Start(t, coturn.Options{IPs: []string{"127.0.0.1", "127.0.0.2"}})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := DiscoverConn(ctx, conn, srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mapping != NoNAT || rep.Type() != "none" || rep.Public != rep.Local {
		t.Errorf("got %+v, want no NAT with public == local", rep)
	}
}

func TestBindNoServer(t *testing.T) {
	conn, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer conn.Close()
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
	defer dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err := DiscoverConn(ctx, conn, netAddrPort(dead.LocalAddr()))
	if err == nil {
		t.Fatal("got a report from a server that never answers")
	}
}
