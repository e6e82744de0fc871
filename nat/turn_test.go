package nat

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"trayphone/internal/siptest/coturn"
)

// TestRelay allocates a TURN relay on a real coturn and sends both ways between a peer and a
// socket bridged through the relay (as a media session would use it).
func TestRelay(t *testing.T) {
	srv := coturn.Start(t, coturn.Options{User: "test", Password: "testpw", AllowLoopbackPeers: true})
	base, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	r, err := Allocate(base, TURNConfig{Server: srv.Addr().String(), Username: "test", Password: "testpw"})
	if err != nil {
		t.Fatalf("allocate: %v\n%s", err, srv.Log())
	}
	defer r.Close()
	if r.Addr().Addr() != srv.Addr().Addr() || r.Addr().Port() < 40000 {
		t.Errorf("relayed address: got %v, want %v:40000-59999", r.Addr(), srv.Addr().Addr())
	}
	peer, _ := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	defer peer.Close()
	app, stand, err := r.Bridge(peer.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	// Ours first: it creates the permission for the peer.
	app.WriteToUDPAddrPort([]byte("from us"), stand)
	buf := make([]byte, 100)
	peer.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("peer got nothing through the relay: %v", err)
	}
	if string(buf[:n]) != "from us" || from != r.Addr() {
		t.Errorf("peer got %q from %v, want %q from the relay %v", buf[:n], from, "from us", r.Addr())
	}
	peer.WriteToUDPAddrPort([]byte("from peer"), r.Addr())
	app.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err = app.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("we got nothing through the relay: %v", err)
	}
	if string(buf[:n]) != "from peer" || from != stand {
		t.Errorf("we got %q from %v, want %q from %v", buf[:n], from, "from peer", stand)
	}
}

func TestRelayBadPassword(t *testing.T) {
	srv := coturn.Start(t, coturn.Options{User: "test", Password: "testpw"})
	base, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer base.Close()
	if r, err := Allocate(base, TURNConfig{Server: srv.Addr().String(), Username: "test", Password: "wrong"}); err == nil {
		r.Close()
		t.Fatal("allocated with a wrong password")
	}
}
