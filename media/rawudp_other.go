//go:build !linux

package media

import (
	"errors"
	"net"
	"net/netip"
)

// udpReader reads datagrams from a UDP socket; on Linux it avoids the runtime's syscall entry
// (rawudp_linux.go), elsewhere it is the net package's read.
type udpReader struct{ conn *net.UDPConn }

func (r *udpReader) init(conn *net.UDPConn) { r.conn = conn }

func (r *udpReader) read(b []byte) (int, netip.AddrPort, error) {
	return r.conn.ReadFromUDPAddrPort(b)
}

// udpWriter sends datagrams on a UDP socket; on Linux it avoids the runtime's syscall entry
// (rawudp_linux.go), elsewhere it is the net package's write.
type udpWriter struct{ conn *net.UDPConn }

func (w *udpWriter) init(conn *net.UDPConn) { w.conn = conn }

func (w *udpWriter) writeTo(b []byte, to netip.AddrPort) (int, error) {
	return w.conn.WriteToUDPAddrPort(b, to)
}

func (w *udpWriter) sockaddr(netip.AddrPort) ([]byte, error) {
	return nil, errors.New("not available on this platform")
}
