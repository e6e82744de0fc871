//go:build !linux

package rt

import (
	"errors"
	"net"
	"net/netip"
)

// UDPReader reads datagrams from a UDP socket; on Linux it avoids the runtime's syscall entry
// (rawudp_linux.go), elsewhere it is the net package's read.
type UDPReader struct{ conn *net.UDPConn }

func (r *UDPReader) Init(conn *net.UDPConn) { r.conn = conn }

func (r *UDPReader) Read(b []byte) (int, netip.AddrPort, error) {
	return r.conn.ReadFromUDPAddrPort(b)
}

// UDPWriter sends datagrams on a UDP socket; on Linux it avoids the runtime's syscall entry
// (rawudp_linux.go), elsewhere it is the net package's write.
type UDPWriter struct{ conn *net.UDPConn }

func (w *UDPWriter) Init(conn *net.UDPConn) { w.conn = conn }

func (w *UDPWriter) WriteTo(b []byte, to netip.AddrPort) (int, error) {
	return w.conn.WriteToUDPAddrPort(b, to)
}

func (w *UDPWriter) Sockaddr(netip.AddrPort) ([]byte, error) {
	return nil, errors.New("not available on this platform")
}
