package nat

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"trayphone/internal/siptest/coturn"
)

// TestReportBehind: which calls go out through the NAT a report describes.
func TestReportBehind(t *testing.T) {
	t.Parallel()
	nat := Report{Local: netip.MustParseAddrPort("192.168.1.5:5060"), Public: netip.MustParseAddrPort("198.51.100.1:40000"), Mapping: EndpointIndependent}
	for _, c := range []struct {
		name  string
		r     Report
		local string
		want  bool
	}{
		{"from the discovery's local address", nat, "192.168.1.5", true},
		{"from the public address a registrar taught", nat, "198.51.100.1", true},
		{"on loopback", nat, "127.0.0.1", false},
		{"on another interface", nat, "10.0.0.7", false},
		{"no report yet", Report{}, "192.168.1.5", false},
		{"no NAT", Report{Local: nat.Local, Public: nat.Local, Mapping: NoNAT}, "192.168.1.5", false},
		{"public address is our own", Report{Local: nat.Local, Public: netip.AddrPortFrom(nat.Local.Addr(), 1), Mapping: BehaviorUnknown}, "192.168.1.5", false},
	} {
		if got := c.r.Behind(netip.MustParseAddr(c.local)); got != c.want {
			t.Errorf("%s: Behind(%s) = %v, want %v", c.name, c.local, got, c.want)
		}
	}
}

// TestRelayReason: a symmetric NAT, or the advice, says a call's audio needs a relay.
func TestRelayReason(t *testing.T) {
	t.Parallel()
	advice := func() (string, bool) { return "the NAT maps per destination", true }
	none := func() (string, bool) { return "", false }
	if got := RelayReason(Report{Mapping: AddressPortDependent}, none); !strings.Contains(got, "symmetric") {
		t.Errorf("symmetric NAT: %q", got)
	}
	if got := RelayReason(Report{Mapping: EndpointIndependent}, advice); got != "the NAT maps per destination" {
		t.Errorf("advice: %q", got)
	}
	if got := RelayReason(Report{Mapping: EndpointIndependent}, none); got != "" {
		t.Errorf("nothing says so: %q", got)
	}
	if got := RelayReason(Report{Mapping: EndpointIndependent}, nil); got != "" {
		t.Errorf("no advice: %q", got)
	}
}

func udp4(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestOpenAudio finds a call's audio socket's public address with a real STUN server (coturn),
// assumes a port-preserving NAT within AudioSTUNWait when the server is silent, and allocates a
// relay on the socket when one is asked for.
func TestOpenAudio(t *testing.T) {
	srv := coturn.Start(t, coturn.Options{User: "test", Password: "testpw", AllowLoopbackPeers: true})
	public := netip.MustParseAddrPort("198.51.100.1:40000")

	conn := udp4(t)
	p := OpenAudio(conn, Report{Server: srv.Addr(), Public: public}, nil)
	if p.STUNErr != nil || p.Relay != nil || p.Public != conn.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Errorf("STUN on loopback: got %+v, want the socket's own address %v", p, conn.LocalAddr())
	}

	conn = udp4(t)
	silent := udp4(t)
	start := time.Now()
	p = OpenAudio(conn, Report{Server: silent.LocalAddr().(*net.UDPAddr).AddrPort(), Public: public}, nil)
	took := time.Since(start)
	wantPub := netip.AddrPortFrom(public.Addr(), uint16(conn.LocalAddr().(*net.UDPAddr).Port))
	if p.STUNErr == nil || p.Public != wantPub {
		t.Errorf("silent STUN server: got %+v, want an error and %v", p, wantPub)
	}
	if took > AudioSTUNWait+500*time.Millisecond {
		t.Errorf("silent STUN server: took %v, want about %v", took, AudioSTUNWait)
	}

	conn = udp4(t)
	turn := TURNConfig{Server: srv.Addr().String(), Username: "test", Password: "testpw"}
	p = OpenAudio(conn, Report{Server: srv.Addr(), Public: public}, &turn)
	if p.Relay == nil || p.RelayErr != nil || p.Public != p.Relay.Addr() {
		t.Fatalf("relay: got %+v\n%s", p, srv.Log())
	}
	p.Relay.Close()

	conn = udp4(t)
	bad := TURNConfig{Server: srv.Addr().String(), Username: "test", Password: "wrong"}
	p = OpenAudio(conn, Report{Server: srv.Addr(), Public: public}, &bad)
	if p.Relay != nil || p.RelayErr == nil || p.STUNErr != nil || !p.Public.IsValid() {
		t.Errorf("refused relay: got %+v, want the error and STUN's address", p)
	}
}
