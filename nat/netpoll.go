package nat

import (
	"errors"
	"net"
	"slices"
	"time"

	"trayphone/internal/clock"
)

// pollSource notices address changes by listing the interface addresses every few seconds: the
// fallback where no OS notification is wired up (macOS route sockets and Windows notifications are
// left to do).
type pollSource struct {
	clk   clock.Clock
	addrs func() ([]string, error)
	every time.Duration
	last  []string
	done  chan struct{}
}

var errClosed = errors.New("closed")

func newPollSource(clk clock.Clock, addrs func() ([]string, error)) *pollSource {
	if addrs == nil {
		addrs = interfaceAddrs
	}
	s := &pollSource{clk: clk, addrs: addrs, every: 3 * time.Second, done: make(chan struct{})}
	s.last, _ = addrs()
	return s
}

func interfaceAddrs() ([]string, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out, nil
}

func (s *pollSource) Next() (string, error) {
	t := s.clk.NewTimer(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return "", errClosed
		case <-t.C():
		}
		now, err := s.addrs()
		if err == nil && !slices.Equal(now, s.last) {
			s.last = now
			return "addresses changed", nil
		}
		t.Reset(s.every)
	}
}

func (s *pollSource) Close() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return nil
}

func (s *pollSource) Name() string { return "address polling" }
