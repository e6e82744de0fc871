package rt

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDPReaderWriter sends through UDPWriter and reads through UDPReader on IPv4, IPv6 and
// dual-stack sockets, and checks the addresses are what the net package reports.
func TestUDPReaderWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ network, bind, to string }{
		{"udp4", "127.0.0.1", "127.0.0.1"},
		{"udp6", "::1", "::1"},
		{"udp", "", "127.0.0.1"}, // dual-stack socket, IPv4 destination: v4-mapped on the wire
	} {
		t.Run(tc.network, func(t *testing.T) {
			t.Parallel()
			a, err := net.ListenUDP(tc.network, &net.UDPAddr{IP: net.ParseIP(tc.bind)})
			if err != nil {
				t.Skipf("no %s socket: %v", tc.network, err)
			}
			defer a.Close()
			b, err := net.ListenUDP(tc.network, &net.UDPAddr{IP: net.ParseIP(tc.bind)})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			bAddr := netip.AddrPortFrom(netip.MustParseAddr(tc.to), b.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			aPort := a.LocalAddr().(*net.UDPAddr).AddrPort().Port()

			var w UDPWriter
			w.Init(a)
			var r UDPReader
			r.Init(b)
			buf := make([]byte, 1500)
			for i := range 3 {
				msg := []byte{byte(i), 1, 2, 3}
				if n, err := w.WriteTo(msg, bAddr); err != nil || n != len(msg) {
					t.Fatalf("write: %d, %v", n, err)
				}
				n, from, err := r.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				if string(buf[:n]) != string(msg) {
					t.Fatalf("got %x, want %x", buf[:n], msg)
				}
				if from.Port() != aPort || from.Addr().Unmap() != netip.MustParseAddr(tc.to).Unmap() {
					t.Fatalf("from %v, want %s port %d", from, tc.to, aPort)
				}
			}
			if tc.network == "udp4" {
				if _, err := w.WriteTo([]byte{1}, netip.MustParseAddrPort("[::1]:9")); err == nil {
					t.Fatal("IPv6 destination on an IPv4 socket: no error")
				}
			}
		})
	}
}

// TestUDPReaderClosed checks that closing the socket ends a blocked read with net.ErrClosed, which
// is how a Session's receive goroutine exits.
func TestUDPReaderClosed(t *testing.T) {
	t.Parallel()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var r UDPReader
	r.Init(c)
	errc := make(chan error, 1)
	go func() {
		_, _, err := r.Read(make([]byte, 100))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read block; it must end either way
	c.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed socket: %v, want net.ErrClosed", err)
	}
}

// TestUDPReaderWriterAllocs checks one datagram out and in allocates nothing.
func TestUDPReaderWriterAllocs(t *testing.T) {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var w UDPWriter
	w.Init(a)
	var r UDPReader
	r.Init(a)
	to := a.LocalAddr().(*net.UDPAddr).AddrPort()
	msg, buf := make([]byte, 172), make([]byte, 1500)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := w.WriteTo(msg, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("got %v allocs per datagram, want 0", allocs)
	}
}
