//go:build darwin && !trayphone_netpoll

package nat

import (
	"os"

	"golang.org/x/sys/unix"

	"trayphone/internal/clock"
)

// routeSource reads the BSD routing socket (route(4)): the kernel writes a message there for every
// address and route change.
type routeSource struct {
	f   *os.File
	buf []byte
}

func newOSSource(clock.Clock) (source, error) {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking fd goes to Go's poller, so Close wakes a pending Read.
	return &routeSource{f: os.NewFile(uintptr(fd), "route"), buf: make([]byte, 1<<16)}, nil
}

func (s *routeSource) Name() string { return "routing socket" }

func (s *routeSource) Next() (string, error) {
	for {
		n, err := s.f.Read(s.buf)
		if err != nil {
			return "", err
		}
		if what := describeRouteMsg(s.buf[:n]); what != "" {
			return what, nil
		}
	}
}

func (s *routeSource) Close() error { return s.f.Close() }

// describeRouteMsg names a routing message (struct rt_msghdr: u_short msglen, u_char version,
// u_char type, ...), or returns "" for the ones that do not move our traffic.
func describeRouteMsg(b []byte) string {
	if len(b) < 4 {
		return ""
	}
	switch b[3] {
	case unix.RTM_NEWADDR:
		return "address added"
	case unix.RTM_DELADDR:
		return "address removed"
	case unix.RTM_ADD, unix.RTM_DELETE, unix.RTM_CHANGE:
		// rtm_flags is the int at offset 8; ARP entries and cloned host routes come and go
		// with every neighbour and connection, and say nothing about our addresses.
		if len(b) >= 12 {
			flags := uint32(b[8]) | uint32(b[9])<<8 | uint32(b[10])<<16 | uint32(b[11])<<24 // little-endian (amd64, arm64)
			if flags&(unix.RTF_LLINFO|unix.RTF_WASCLONED) != 0 {
				return ""
			}
		}
		return "route changed"
	case unix.RTM_IFINFO:
		return "link changed"
	}
	return ""
}
