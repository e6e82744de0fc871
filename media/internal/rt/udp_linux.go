package rt

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"
)

// Why raw system calls. A 20 ms media loop spends almost nothing in its own code: what a call costs
// a Go process is the scheduler around it. Every system call made through the runtime's syscall
// entry (net.UDPConn's reads and writes) wakes the runtime's monitor thread (sysmon) when it was
// asleep, and a monitor woken that way polls every 20 µs until all Ps are idle again: on a 2-core
// VM that was about half of the ~700 context switches a second a call cost. A non-blocking
// recvfrom/sendto on a UDP socket returns in microseconds, so it can be made as a raw system call,
// which does not enter the runtime's syscall state: the monitor sleeps on. Waiting for a datagram
// still goes through the netpoller (syscall.RawConn.Read), never by blocking in the kernel.

// UDPReader reads datagrams from a UDP socket like net.UDPConn.ReadFromUDPAddrPort, with the
// recvfrom made as a raw system call. It allocates nothing per datagram. It is not safe for
// concurrent use.
type UDPReader struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	fn   func(fd uintptr) bool // r.recv, bound once so that Read allocates nothing

	buf   []byte
	n     int
	errno syscall.Errno
	from  syscall.RawSockaddrAny
	flen  uint32
}

func (r *UDPReader) Init(conn *net.UDPConn) {
	*r = UDPReader{conn: conn}
	if raw, err := conn.SyscallConn(); err == nil {
		r.raw = raw
		r.fn = r.recv
	}
}

// recv is the RawConn.Read callback: one non-blocking recvfrom. It returns false (wait for the
// socket to become readable, then call again) when no datagram is queued.
func (r *UDPReader) recv(fd uintptr) bool {
	r.flen = uint32(unsafe.Sizeof(r.from))
	var p unsafe.Pointer
	if len(r.buf) > 0 {
		p = unsafe.Pointer(&r.buf[0])
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(p), uintptr(len(r.buf)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&r.flen)))
	r.n, r.errno = int(n), e
	return e != syscall.EAGAIN && e != syscall.EINTR
}

// Read blocks until a datagram arrives and copies it into b. Closing the socket ends it with an
// error that errors.Is net.ErrClosed.
func (r *UDPReader) Read(b []byte) (int, netip.AddrPort, error) {
	if r.raw == nil {
		return r.conn.ReadFromUDPAddrPort(b)
	}
	r.buf = b
	err := r.raw.Read(r.fn)
	r.buf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if r.errno != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", r.errno)}
	}
	return r.n, sockaddrAddrPort(&r.from), nil
}

// sockaddrAddrPort converts a kernel socket address to an address and port; an IPv6 link-local
// address keeps its interface as the zone, named as the net package names it.
func sockaddrAddrPort(sa *syscall.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		a := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), netPort(&a.Port))
	case syscall.AF_INET6:
		a := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		ip := netip.AddrFrom16(a.Addr)
		if a.Scope_id != 0 {
			// Rare (link-local media); the lookup may allocate.
			if ifi, err := net.InterfaceByIndex(int(a.Scope_id)); err == nil {
				ip = ip.WithZone(ifi.Name)
			}
		}
		return netip.AddrPortFrom(ip, netPort(&a.Port))
	}
	return netip.AddrPort{}
}

// netPort reads a port stored in network byte order.
func netPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// setNetPort stores port in network byte order.
func setNetPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// UDPWriter sends datagrams on a UDP socket like net.UDPConn.WriteToUDPAddrPort, with the sendto
// made as a raw system call. It allocates nothing per datagram. It is not safe for concurrent use.
type UDPWriter struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	fn   func(fd uintptr) bool // w.send, bound once
	v6   bool                  // the socket is AF_INET6: IPv4 destinations go as v4-mapped

	buf   []byte
	n     int
	errno syscall.Errno
	sa4   syscall.RawSockaddrInet4
	sa6   syscall.RawSockaddrInet6
	to    netip.AddrPort // the destination sa4/sa6 hold
}

func (w *UDPWriter) Init(conn *net.UDPConn) {
	*w = UDPWriter{conn: conn}
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	family := -1
	_ = raw.Control(func(fd uintptr) {
		if sa, err := syscall.Getsockname(int(fd)); err == nil {
			switch sa.(type) {
			case *syscall.SockaddrInet4:
				family = syscall.AF_INET
			case *syscall.SockaddrInet6:
				family = syscall.AF_INET6
			}
		}
	})
	if family < 0 {
		return // unknown socket: the net package's path
	}
	w.raw, w.v6, w.fn = raw, family == syscall.AF_INET6, w.send
}

// send is the RawConn.Write callback: one non-blocking sendto. It returns false (wait until the
// socket is writable, then call again) when the send buffer is full.
func (w *UDPWriter) send(fd uintptr) bool {
	sa, salen := unsafe.Pointer(&w.sa4), unsafe.Sizeof(w.sa4)
	if w.v6 {
		sa, salen = unsafe.Pointer(&w.sa6), unsafe.Sizeof(w.sa6)
	}
	var p unsafe.Pointer
	if len(w.buf) > 0 {
		p = unsafe.Pointer(&w.buf[0])
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(p), uintptr(len(w.buf)),
		syscall.MSG_DONTWAIT, uintptr(sa), salen)
	w.n, w.errno = int(n), e
	return e != syscall.EAGAIN && e != syscall.EINTR
}

var errAddressFamily = errors.New("address family does not match the socket")

// WriteTo sends b to to.
func (w *UDPWriter) WriteTo(b []byte, to netip.AddrPort) (int, error) {
	if w.raw == nil {
		return w.conn.WriteToUDPAddrPort(b, to)
	}
	if to != w.to {
		if err := w.setDest(to); err != nil {
			return 0, &net.OpError{Op: "write", Net: "udp", Err: err}
		}
	}
	w.buf = b
	err := w.raw.Write(w.fn)
	w.buf = nil
	if err != nil {
		return 0, err
	}
	if w.errno != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendto", w.errno)}
	}
	return w.n, nil
}

// setDest fills the socket address for to. A zoned IPv6 destination or another family than the
// socket's is refused, as the net package refuses it.
func (w *UDPWriter) setDest(to netip.AddrPort) error {
	ip := to.Addr()
	switch {
	case !ip.IsValid():
		return errAddressFamily
	case w.v6:
		if ip.Zone() != "" {
			ifi, err := net.InterfaceByName(ip.Zone())
			if err != nil {
				return err
			}
			w.sa6.Scope_id = uint32(ifi.Index)
		} else {
			w.sa6.Scope_id = 0
		}
		w.sa6.Family = syscall.AF_INET6
		setNetPort(&w.sa6.Port, to.Port())
		w.sa6.Addr = ip.As16()
	case ip.Is4() || ip.Is4In6():
		w.sa4.Family = syscall.AF_INET
		setNetPort(&w.sa4.Port, to.Port())
		w.sa4.Addr = ip.Unmap().As4()
	default:
		return errAddressFamily
	}
	w.to = to
	return nil
}

// Sockaddr returns the kernel socket address for to, as the bytes sendto takes, for a sender that
// sends on another thread (steady_linux.go). The slice is w's and changes with the destination.
func (w *UDPWriter) Sockaddr(to netip.AddrPort) ([]byte, error) {
	if w.raw == nil {
		return nil, errors.New("not a raw socket")
	}
	if to != w.to {
		if err := w.setDest(to); err != nil {
			return nil, err
		}
	}
	if w.v6 {
		return unsafe.Slice((*byte)(unsafe.Pointer(&w.sa6)), unsafe.Sizeof(w.sa6)), nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&w.sa4)), unsafe.Sizeof(w.sa4)), nil
}
