package nat

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"trayphone/internal/clock"
	"trayphone/internal/phone"
)

// ServiceConfig says what a Service watches and whom it tells.
type ServiceConfig struct {
	// STUN is the server's host:port.
	STUN string
	// LocalIP is the address discovery binds to; invalid means any.
	LocalIP netip.Addr
	// Watcher reports network changes and wake-ups; nil means none.
	Watcher Watcher
	// OnChange runs (on the Service's goroutine) right after a change, before rediscovery: the
	// place to Kick registrations and re-INVITE calls. Nil means nothing.
	OnChange func(Change)
	// AfterChange runs (on the Service's goroutine) after the rediscovery that follows a change,
	// with its result: the place to re-INVITE calls with the new address. Nil means nothing.
	AfterChange func(Report, error)
	// OnReport runs (on the Service's goroutine) after every discovery with its result: the
	// place to ask the same server about other sockets (the SIP socket). Nil means nothing.
	OnReport func(Report, error)
	// Recheck is how often discovery runs without a change (default 5 minutes).
	Recheck time.Duration
	Clock   clock.Clock
	Log     *slog.Logger
	// Listen opens the discovery socket; nil means net.ListenPacket (tests open it in a namespace).
	Listen func(network, addr string) (net.PacketConn, error)
}

// Service keeps the public address and NAT type fresh: discovery at start, after every network
// change or wake-up, and every Recheck.
type Service struct {
	cfg ServiceConfig

	mu   sync.Mutex
	rep  Report
	err  error
	at   time.Time
	runs int
}

// NewService returns a Service; Run starts it.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Recheck == 0 {
		cfg.Recheck = 5 * time.Minute
	}
	return &Service{cfg: cfg}
}

// Run discovers until ctx is done, then returns nil.
func (s *Service) Run(ctx context.Context) error {
	var changes <-chan Change
	if s.cfg.Watcher != nil {
		changes = s.cfg.Watcher.Changes()
	}
	t := s.cfg.Clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-changes:
			s.cfg.Log.Info("network changed; looking again", "reason", c.Reason, "detail", c.Detail)
			if s.cfg.OnChange != nil {
				s.cfg.OnChange(c)
			}
			s.discover(ctx)
			if s.cfg.AfterChange != nil && ctx.Err() == nil {
				s.cfg.AfterChange(s.Report())
			}
		case <-t.C():
			s.discover(ctx)
		}
		t.Reset(s.cfg.Recheck)
	}
}

func (s *Service) discover(ctx context.Context) {
	rep, err := s.discoverOnce(ctx)
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	prev := s.rep
	s.rep, s.err, s.at = rep, err, s.cfg.Clock.Now()
	s.runs++
	s.mu.Unlock()
	if s.cfg.OnReport != nil {
		s.cfg.OnReport(rep, err)
	}
	if err != nil {
		s.cfg.Log.Warn("could not find the public address", "stun", s.cfg.STUN, "err", err)
	} else if rep.Public != prev.Public || rep.Mapping != prev.Mapping {
		s.cfg.Log.Info("public address found", "public", rep.Public, "nat", rep.Type(), "filtering", rep.Filtering)
	}
}

func (s *Service) discoverOnce(ctx context.Context) (Report, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ua, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", hostOf(s.cfg.STUN))
	if err != nil || len(ua) == 0 {
		return Report{}, errf("cannot find the STUN server %s", s.cfg.STUN)
	}
	_, portStr, _ := net.SplitHostPort(s.cfg.STUN)
	port, err := net.LookupPort("udp", portStr)
	if err != nil {
		return Report{}, errf("STUN server %s: bad port", s.cfg.STUN)
	}
	server := netip.AddrPortFrom(ua[0].Unmap(), uint16(port))
	bind := "0.0.0.0:0"
	if s.cfg.LocalIP.IsValid() {
		bind = netip.AddrPortFrom(s.cfg.LocalIP, 0).String()
	}
	listen := s.cfg.Listen
	if listen == nil {
		listen = net.ListenPacket
	}
	conn, err := listen("udp4", bind)
	if err != nil {
		return Report{}, err
	}
	defer conn.Close()
	return DiscoverConn(ctx, conn, server)
}

func hostOf(hp string) string {
	h, _, err := net.SplitHostPort(hp)
	if err != nil {
		return hp
	}
	return h
}

// ErrNotYet means discovery has not finished yet.
var ErrNotYet = errors.New("the public address is not known yet")

// Report returns the last discovery's result, or its error (ErrNotYet before the first).
func (s *Service) Report() (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == 0 {
		return Report{}, ErrNotYet
	}
	return s.rep, s.err
}

// Runs is how many discoveries have finished.
func (s *Service) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// Info is the status snapshot for phone.Status.NAT.
func (s *Service) Info() *phone.NATInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := &phone.NATInfo{STUNServer: s.cfg.STUN, Type: "unknown", Checked: s.at}
	if s.runs == 0 {
		return in
	}
	if s.err != nil {
		in.Error = s.err.Error()
		return in
	}
	in.Public = s.rep.Public.String()
	in.Type = s.rep.Type()
	if s.rep.Filtering != BehaviorUnknown {
		in.Filtering = s.rep.Filtering.String()
	}
	return in
}
