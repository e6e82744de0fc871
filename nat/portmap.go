package nat

import (
	"context"
	"net"
	"sync"
	"time"

	natpmp "github.com/jackpal/go-nat-pmp"

	"trayphone/internal/clock"
)

// Gateway is a home router that maps ports when asked (NAT-PMP, RFC 6886; UPnP IGD).
type Gateway interface {
	// Name is "NAT-PMP" or "UPnP", for status.
	Name() string
	// Map asks for proto ("udp"/"tcp") internal → external for lifetime; it returns what was granted.
	Map(proto string, internal, external int, lifetime time.Duration) (gotExternal int, granted time.Duration, err error)
	// Unmap removes the mapping of internal.
	Unmap(proto string, internal int) error
}

// PortMap keeps one port mapped on a Gateway: it renews at half the granted lifetime, retries
// after failures, and removes the mapping when Serve's context ends (the phone quits).
type PortMap struct {
	gw       Gateway
	clk      clock.Clock
	proto    string
	port     int
	lifetime time.Duration

	mu       sync.Mutex
	external int
}

// NewPortMap maps proto port on gw (external port asked equal to port). clk nil means real.
func NewPortMap(gw Gateway, proto string, port int, clk clock.Clock) *PortMap {
	if clk == nil {
		clk = clock.Real{}
	}
	return &PortMap{gw: gw, clk: clk, proto: proto, port: port, lifetime: 2 * time.Hour}
}

// External is the mapped external port, 0 while nothing is mapped.
func (m *PortMap) External() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.external
}

// retryAfter is the wait after a failed request.
const retryAfter = time.Minute

// Serve maps, renews and finally unmaps. It returns nil when ctx is done, after the removal.
func (m *PortMap) Serve(ctx context.Context) error {
	t := m.clk.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if m.External() != 0 {
				m.gw.Unmap(m.proto, m.port)
				m.mu.Lock()
				m.external = 0
				m.mu.Unlock()
			}
			return nil
		case <-t.C():
		}
		ext, granted, err := m.gw.Map(m.proto, m.port, m.port, m.lifetime)
		m.mu.Lock()
		if err != nil || granted <= 0 {
			m.external = 0
			m.mu.Unlock()
			t.Reset(retryAfter)
			continue
		}
		m.external = ext
		m.mu.Unlock()
		t.Reset(granted / 2)
	}
}

// PMPGateway is a NAT-PMP gateway at ip (RFC 6886).
func PMPGateway(ip net.IP) Gateway { return pmpGateway{natpmp.NewClientWithTimeout(ip, 2*time.Second)} }

type pmpGateway struct{ c *natpmp.Client }

func (pmpGateway) Name() string { return "NAT-PMP" }

func (g pmpGateway) Map(proto string, internal, external int, lifetime time.Duration) (int, time.Duration, error) {
	r, err := g.c.AddPortMapping(proto, internal, external, int(lifetime/time.Second))
	if err != nil {
		return 0, 0, err
	}
	return int(r.MappedExternalPort), time.Duration(r.PortMappingLifetimeInSeconds) * time.Second, nil
}

// Unmap asks for a zero lifetime, which is how RFC 6886 section 3.4 deletes a mapping.
func (g pmpGateway) Unmap(proto string, internal int) error {
	_, err := g.c.AddPortMapping(proto, internal, 0, 0)
	return err
}
