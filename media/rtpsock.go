package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
)

// ephemeralPairAttempts bounds how often ListenRTP asks the kernel for an ephemeral port when it
// got an odd one or found the next port taken.
const ephemeralPairAttempts = 64

// ListenRTP opens the UDP sockets of one media stream on ip: RTP on an even port and RTCP on the
// port above it (RFC 3550 §11). minPort and maxPort bound both ports; 0, 0 means any ephemeral
// pair. Ports already taken are skipped: the search starts at a random even port of the range
// and tries each pair once. An invalid ip listens on every address.
func ListenRTP(ip netip.Addr, minPort, maxPort int) (rtp, rtcp *net.UDPConn, err error) {
	network := "udp"
	switch {
	case ip.Is4() || ip.Is4In6():
		ip, network = ip.Unmap(), "udp4"
	case ip.Is6():
		network = "udp6"
	}
	listen := func(port int) (*net.UDPConn, error) {
		addr := &net.UDPAddr{Port: port}
		if ip.IsValid() {
			addr.IP = ip.AsSlice()
			addr.Zone = ip.Zone()
		}
		return net.ListenUDP(network, addr)
	}
	pair := func(port int) (*net.UDPConn, *net.UDPConn, error) {
		a, err := listen(port)
		if err != nil {
			return nil, nil, err
		}
		b, err := listen(port + 1)
		if err != nil {
			a.Close()
			return nil, nil, err
		}
		return a, b, nil
	}

	if minPort == 0 && maxPort == 0 {
		var last error
		for range ephemeralPairAttempts {
			a, err := listen(0)
			if err != nil {
				return nil, nil, fmt.Errorf("listen rtp on %v: %w", ip, err)
			}
			port := a.LocalAddr().(*net.UDPAddr).Port
			if port%2 != 0 || port >= 65535 {
				a.Close()
				continue
			}
			b, err := listen(port + 1)
			if err != nil {
				a.Close()
				last = err
				continue
			}
			return a, b, nil
		}
		if last == nil {
			last = errors.New("the kernel gave odd ports only")
		}
		return nil, nil, fmt.Errorf("listen rtp on %v: no free even/odd port pair after %d attempts: %w",
			ip, ephemeralPairAttempts, last)
	}

	if minPort <= 0 || maxPort > 65535 || minPort > maxPort {
		return nil, nil, fmt.Errorf("listen rtp: invalid port range %d-%d", minPort, maxPort)
	}
	first := minPort + minPort%2 // lowest even port
	pairs := (maxPort - first + 1) / 2
	if pairs <= 0 {
		return nil, nil, fmt.Errorf("listen rtp: port range %d-%d holds no even/odd pair", minPort, maxPort)
	}
	start := rand.IntN(pairs)
	var last error
	for i := range pairs {
		port := first + 2*((start+i)%pairs)
		a, b, err := pair(port)
		if err == nil {
			return a, b, nil
		}
		last = err
	}
	return nil, nil, fmt.Errorf("listen rtp on %v: no free port pair in %d-%d: %w", ip, minPort, maxPort, last)
}
