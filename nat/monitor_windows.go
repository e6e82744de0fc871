//go:build windows && !trayphone_netpoll

package nat

import (
	"sync"

	"golang.org/x/sys/windows"

	"trayphone/internal/clock"
)

// ipHelperSource takes the IP Helper's change notifications (NotifyUnicastIpAddressChange,
// NotifyRouteChange2): Windows calls back on its own threads; the callbacks only post to events.
type ipHelperSource struct {
	addrH, routeH windows.Handle
	done          chan struct{}
	closeOnce     sync.Once
}

// The callbacks are made once per process (windows.NewCallback slots are never freed); they
// feed winEvents, which the one source of the process reads.
var (
	winOnce               sync.Once
	winAddrCB, winRouteCB uintptr
	winEvents             = make(chan string, 1)
)

func winPost(what string) {
	select {
	case winEvents <- what:
	default: // one pending change covers this one
	}
}

func newOSSource(clock.Clock) (source, error) {
	winOnce.Do(func() {
		winAddrCB = windows.NewCallback(func(ctx, row, kind uintptr) uintptr { winPost("address changed"); return 0 })
		winRouteCB = windows.NewCallback(func(ctx, row, kind uintptr) uintptr { winPost("route changed"); return 0 })
	})
	s := &ipHelperSource{done: make(chan struct{})}
	if err := windows.NotifyUnicastIpAddressChange(windows.AF_UNSPEC, winAddrCB, nil, false, &s.addrH); err != nil {
		return nil, err
	}
	if err := windows.NotifyRouteChange2(windows.AF_UNSPEC, winRouteCB, nil, false, &s.routeH); err != nil {
		windows.CancelMibChangeNotify2(s.addrH)
		return nil, err
	}
	return s, nil
}

func (s *ipHelperSource) Name() string { return "IP Helper notifications" }

func (s *ipHelperSource) Next() (string, error) {
	select {
	case <-s.done:
		return "", errClosed
	case what := <-winEvents:
		return what, nil
	}
}

func (s *ipHelperSource) Close() error {
	s.closeOnce.Do(func() {
		windows.CancelMibChangeNotify2(s.addrH)
		windows.CancelMibChangeNotify2(s.routeH)
		close(s.done)
	})
	return nil
}
