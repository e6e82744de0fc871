package nat

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// A real /proc/net/route (Debian 12, a laptop on Wi-Fi with a VPN route).
const procRoutes = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
	"tun0\t0000080A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n" +
	"wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n" +
	"wlp2s0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"

func TestParseRoutes(t *testing.T) {
	ip, err := parseRoutes([]byte(procRoutes))
	if err != nil || !ip.Equal(net.IPv4(192, 168, 1, 1)) {
		t.Errorf("got %v, %v; want 192.168.1.1", ip, err)
	}
	noDefault := "Iface\tDestination\tGateway \tFlags\n" + "eth0\t0001A8C0\t00000000\t0001\n"
	if _, err := parseRoutes([]byte(noDefault)); err == nil {
		t.Error("a table without a default route gave a router")
	}
	downRoute := "Iface\tDestination\tGateway \tFlags\n" + "eth0\t00000000\t0101A8C0\t0002\n"
	if _, err := parseRoutes([]byte(downRoute)); err == nil {
		t.Error("a default route that is not up gave a router")
	}
}

func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte(procRoutes))
	f.Add([]byte("Iface\n\t00000000\tZZZZ\t3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ip, err := parseRoutes(b); err == nil && ip.To4() == nil {
			t.Errorf("router %v is not IPv4", ip)
		}
	})
}

// TestDiscoverPMP runs a minimal NAT-PMP router (RFC 6886) on 127.0.0.1:5351 and maps a port on
// it through DiscoverPMP's Gateway, then removes the mapping.
func TestDiscoverPMP(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5351})
	if err != nil {
		t.Skipf("port 5351 is taken: %v", err)
	}
	defer conn.Close()
	type mapping struct {
		op             byte
		internal, life uint32
	}
	got := make(chan mapping, 4)
	go func() { // answers until conn is closed
		buf := make([]byte, 64)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n < 2 || buf[0] != 0 {
				continue
			}
			epoch := uint32(time.Now().Unix())
			switch op := buf[1]; {
			case op == 0 && n == 2: // external address
				res := []byte{0, 128, 0, 0, 0, 0, 0, 0, 203, 0, 113, 7}
				binary.BigEndian.PutUint32(res[4:], epoch)
				conn.WriteToUDP(res, from)
			case (op == 1 || op == 2) && n == 12: // map UDP / TCP
				internal := binary.BigEndian.Uint16(buf[4:])
				life := binary.BigEndian.Uint32(buf[8:])
				got <- mapping{op, uint32(internal), life}
				res := make([]byte, 16)
				res[1] = 128 + op
				binary.BigEndian.PutUint32(res[4:], epoch)
				binary.BigEndian.PutUint16(res[8:], internal)
				binary.BigEndian.PutUint16(res[10:], internal)
				binary.BigEndian.PutUint32(res[12:], life)
				conn.WriteToUDP(res, from)
			}
		}
	}()
	gw, ext, err := DiscoverPMP(net.IPv4(127, 0, 0, 1), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ext.Equal(net.IPv4(203, 0, 113, 7)) || gw.Name() != "NAT-PMP" {
		t.Fatalf("external %v via %s", ext, gw.Name())
	}
	port, life, err := gw.Map("udp", 5070, 5070, 2*time.Hour)
	if err != nil || port != 5070 || life != 2*time.Hour {
		t.Fatalf("map: port %d, lifetime %v, %v", port, life, err)
	}
	if m := <-got; m.op != 1 || m.internal != 5070 || m.life != 7200 {
		t.Errorf("router saw %+v", m)
	}
	if err := gw.Unmap("udp", 5070); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m.life != 0 {
		t.Errorf("unmap asked for lifetime %d, want 0 (RFC 6886 §3.4)", m.life)
	}
}

func TestDiscoverPMPNoRouter(t *testing.T) {
	// Nothing answers NAT-PMP on 127.0.0.2: a clear error after the timeout.
	if _, _, err := DiscoverPMP(net.IPv4(127, 0, 0, 2), 300*time.Millisecond); err == nil {
		t.Error("no router, no error")
	}
}
