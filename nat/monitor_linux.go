//go:build linux && !trayphone_netpoll

package nat

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"trayphone/internal/clock"
)

// netlinkSource subscribes to rtnetlink link, address and route notifications (rtnetlink(7)).
type netlinkSource struct {
	f   *os.File
	buf []byte
}

func newOSSource(clock.Clock) (source, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	groups := uint32(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
		unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking fd goes to Go's poller, so Close wakes a pending Read.
	return &netlinkSource{f: os.NewFile(uintptr(fd), "netlink"), buf: make([]byte, 1<<16)}, nil
}

func (s *netlinkSource) Next() (string, error) {
	for {
		n, err := s.f.Read(s.buf)
		if err != nil {
			return "", err
		}
		if what := describeNetlink(s.buf[:n]); what != "" {
			return what, nil
		}
	}
}

func (s *netlinkSource) Close() error { return s.f.Close() }

// describeNetlink names the first interesting message in a netlink datagram, or returns "".
func describeNetlink(b []byte) string {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return ""
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.RTM_NEWADDR:
			return "address added"
		case unix.RTM_DELADDR:
			return "address removed"
		case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
			if len(m.Data) >= unix.SizeofRtMsg && m.Data[4] != unix.RT_TABLE_MAIN { // rtm_table
				continue // local and cache tables change with every address; main is what routes
			}
			if m.Header.Type == unix.RTM_NEWROUTE {
				return "route added"
			}
			return "route removed"
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			return "link changed"
		}
	}
	return ""
}

func (s *netlinkSource) Name() string { return "netlink" }
