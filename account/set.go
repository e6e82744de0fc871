package account

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// Set is every configured account with its registration. The first account is the default one
// for calls. Its methods are safe from any goroutine.
type Set struct {
	regs []*Registration
	byID map[string]*Registration

	mu   sync.Mutex
	hops map[string][]netip.AddrPort // account ID → addresses of its registrar/proxy
}

// NewSet builds a registration per spec (in order; the first is the default account). password
// returns an account's stored password.
func NewSet(specs []Spec, ua UA, password func(id string) (string, error), opts ...Option) *Set {
	s := &Set{byID: map[string]*Registration{}, hops: map[string][]netip.AddrPort{}}
	for _, sp := range specs {
		id := sp.ID
		r := NewRegistration(sp, ua, func() (string, error) { return password(id) }, opts...)
		s.regs = append(s.regs, r)
		s.byID[id] = r
		if ip, ok := sp.HopIP(); ok {
			s.hops[id] = []netip.AddrPort{hopAddrPort(sp, ip)}
		}
	}
	return s
}

func hopAddrPort(sp Spec, ip netip.Addr) netip.AddrPort {
	_, p, _ := net.SplitHostPort(sp.HopAddr())
	n, _ := strconv.Atoi(p)
	return netip.AddrPortFrom(ip, uint16(n))
}

// Len is the number of accounts.
func (s *Set) Len() int { return len(s.regs) }

// Registrations returns the registrations in config order.
func (s *Set) Registrations() []*Registration { return s.regs }

// Serve registers every account, one goroutine each, until ctx is done; it returns when every
// account has un-REGISTERed (each bounded by UnregisterTimeout).
func (s *Set) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range s.regs {
		if _, ok := r.spec.HopIP(); !ok {
			wg.Add(1)
			go func() { // ends after one bounded lookup
				defer wg.Done()
				s.resolve(ctx, r.spec)
			}()
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Serve(ctx) }()
	}
	wg.Wait()
	return nil
}

// resolve looks up the addresses of a registrar given by name, for ghost-call checks.
func (s *Set) resolve(ctx context.Context, sp Spec) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", sp.Proxy.Host)
	if err != nil {
		return
	}
	var aps []netip.AddrPort
	for _, ip := range ips {
		aps = append(aps, hopAddrPort(sp, ip.Unmap()))
	}
	s.mu.Lock()
	s.hops[sp.ID] = aps
	s.mu.Unlock()
}

// Kick re-registers account id now ("" = every account).
func (s *Set) Kick(id string) error {
	if id == "" {
		for _, r := range s.regs {
			r.Kick()
		}
		return nil
	}
	r := s.byID[id]
	if r == nil {
		return fmt.Errorf("no account %q is configured", id)
	}
	r.Kick()
	return nil
}

// Reload reads account id's password again ("" = every account's) and re-registers it now.
func (s *Set) Reload(id string) error {
	if id == "" {
		for _, r := range s.regs {
			r.Reload()
		}
		return nil
	}
	r := s.byID[id]
	if r == nil {
		return fmt.Errorf("no account %q is configured", id)
	}
	r.Reload()
	return nil
}

// Snapshots returns every account's state, in config order.
func (s *Set) Snapshots() []phone.AccountInfo {
	out := make([]phone.AccountInfo, 0, len(s.regs))
	for _, r := range s.regs {
		out = append(out, r.Info())
	}
	return out
}

// Outbound returns how a call leaves through account id ("" = the default account). It returns
// nil and no error when no account is configured (direct calls).
func (s *Set) Outbound(id string) (*sipua.Outbound, error) {
	if id == "" {
		if len(s.regs) == 0 {
			return nil, nil
		}
		id = s.regs[0].spec.ID
	}
	r := s.byID[id]
	if r == nil {
		return nil, fmt.Errorf("no account %q is configured", id)
	}
	o, err := r.Outbound()
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// AccountFor returns the first account whose AOR domain is uri's host (and port, when both give
// one), or "".
func (s *Set) AccountFor(uri sip.Uri) string {
	for _, r := range s.regs {
		a := r.spec.AOR
		if strings.EqualFold(a.Host, uri.Host) && (a.Port == uri.Port || a.Port == 0 || uri.Port == 0) {
			return r.spec.ID
		}
	}
	return ""
}

// Admit decides whether an incoming INVITE came through one of our registrars: its Request-URI
// carries the token of one of our registrations, or it comes from a registrar's or proxy's
// address. It returns that account's ID.
func (s *Set) Admit(req *sip.Request) (string, bool) {
	if tok, ok := req.Recipient.UriParams.Get(TokenParam); ok && tok != "" {
		for _, r := range s.regs {
			if r.token == tok {
				return r.spec.ID, true
			}
		}
	}
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return "", false
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.regs {
		for _, h := range s.hops[r.spec.ID] {
			if h == src {
				return r.spec.ID, true
			}
		}
	}
	return "", false
}
