package nat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"trayphone/internal/phone"
)

// Traversal is the phone's NAT policy in one place: discovery of the public address and NAT type
// (Service), STUN on the SIP listening socket, the TURN server calls fall back on, the port
// mapping of the SIP port on the router, the network monitor, and what status says about all of
// them. The call manager sees it through Report, TURN, SIPPublic, NeedRelay and RelaysInUse.
//
// It is built whole by NewTraversal, before the SIP user agent (whose Intercept is the
// Traversal's), and started with the SIP socket and what to do after a network change by Start.
type Traversal struct {
	cfg    TraversalConfig
	log    *slog.Logger // the phone's log: what the Traversal itself says
	nlog   *slog.Logger // with component=nat: the service, the monitor, network changes
	svc    *Service     // nil without a STUN server
	mon    *Monitor     // nil when the network cannot be watched
	prober *Prober      // STUN on the SIP socket: sends through the socket Start was given

	// Set by Start, before any of the goroutines that read them starts.
	sip   SIPSocket
	hooks Hooks

	sipPub   atomic.Pointer[netip.AddrPort]
	relays   atomic.Pointer[[]RelayUse] // the TURN relays calls' audio goes through, and why
	maps     atomic.Pointer[[]*PortMap] // the gateway's mappings once one was found
	gwName   atomic.Pointer[string]     // its protocol, set before maps
	mapsDone sync.WaitGroup             // mapPorts, until its mappings are removed
}

// TraversalConfig is what a Traversal needs: all of it is known before the SIP user agent exists.
type TraversalConfig struct {
	// STUN is the server discovery asks ("" for none: no discovery, no port mapping, calls use
	// their local address).
	STUN string
	// TURN is the relay server calls' audio falls back on (Server "" for none); TURNNote says why
	// it cannot be used ("" when it can).
	TURN     TURNConfig
	TURNNote string
	// Seen returns where the registrars saw the SIP socket (Via received/rport); nil for none.
	Seen func() []netip.AddrPort
	// Log is the phone's logger (the discovery service and the monitor log with component=nat);
	// nil discards.
	Log *slog.Logger
}

// SIPSocket is the SIP listening socket as the Traversal uses it: STUN requests leave from it (so
// that their answers, which come back through Intercept, give its own public mapping), and its
// port is what the router maps.
type SIPSocket struct {
	Port int
	Send Sender
}

// Hooks are what the phone does after a network change or wake-up: OnChange before rediscovery
// (re-register), AfterChange once our address really moved (re-offer calls). Nil is nothing.
type Hooks struct {
	OnChange    func(Change)
	AfterChange func()
}

// RelayUse is one call's TURN relay and why the call uses it.
type RelayUse struct {
	Addr netip.AddrPort
	Why  string // e.g. "the NAT maps per destination: ..."
}

// NewTraversal prepares the network monitor (always: a laptop changes networks and sleeps
// whether or not a STUN server is configured) and, with a STUN server, the discovery service. It
// starts nothing.
func NewTraversal(cfg TraversalConfig) *Traversal {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Traversal{cfg: cfg, log: log, nlog: log.With("component", "nat")}
	t.prober = NewProber(t.sendSIP, nil)
	mon, err := NewMonitor(WithMonitorLog(t.nlog))
	if err != nil {
		t.nlog.Warn("network changes will not be noticed", "err", err)
	} else {
		t.mon = mon
	}
	if cfg.STUN == "" {
		return t
	}
	var last Report // the report before the change; both hooks run on the service's goroutine
	scfg := ServiceConfig{STUN: cfg.STUN, Log: t.nlog, OnReport: t.findSIPPublic,
		OnChange: func(c Change) {
			last, _ = t.svc.Report()
			if t.hooks.OnChange != nil {
				t.hooks.OnChange(c)
			}
		},
		AfterChange: func(rep Report, err error) {
			// Calls are re-offered only when our address really moved: address events that
			// change nothing (an IPv6 address becoming valid) must not re-INVITE every call.
			if err != nil || (rep.Local.Addr() == last.Local.Addr() && rep.Public.Addr() == last.Public.Addr()) {
				return
			}
			if t.hooks.AfterChange != nil {
				t.hooks.AfterChange()
			}
		}}
	if t.mon != nil {
		scfg.Watcher = t.mon
	}
	t.svc = NewService(scfg)
	return t
}

// Discovers reports whether a STUN server is configured: only then do calls need the Traversal
// (their public address, a relay).
func (t *Traversal) Discovers() bool { return t.svc != nil }

// Start runs the Traversal's goroutines until ctx is done: the network monitor, and with a STUN
// server the discovery service and the port mapping of sip's port (Wait waits for its removal);
// without one a follower that runs hooks after each change. It does not block. Call it once,
// before the SIP user agent serves (calls read what it sets); answers that reach the SIP socket
// before then wait in the socket's buffer.
func (t *Traversal) Start(ctx context.Context, sip SIPSocket, hooks Hooks) {
	t.sip, t.hooks = sip, hooks
	if t.mon != nil {
		// Returns when ctx is done.
		go func() { _ = t.mon.Run(ctx) }()
	}
	if t.svc == nil {
		if t.mon != nil {
			go t.followChanges(ctx)
		}
		return
	}
	// Returns when ctx is done.
	go func() { _ = t.svc.Run(ctx) }()
	t.mapsDone.Add(1)
	// Returns when ctx is done, after removing the mappings (or at once without a gateway).
	go func() { defer t.mapsDone.Done(); t.mapPorts(ctx) }()
}

// Wait gives the port mappings a moment to be removed at quit (a gateway that does not answer
// does not hold the phone up for long). Call it after Start's ctx is done.
func (t *Traversal) Wait() {
	done := make(chan struct{})
	// Returns when mapPorts has (it ends with Start's context).
	go func() { t.mapsDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(UPnPTimeout + time.Second):
	}
}

// sendSIP sends from the SIP socket Start was given: the prober sends only from the discovery
// service's goroutine, which Start starts after setting it.
func (t *Traversal) sendSIP(b []byte, to netip.AddrPort) error { return t.sip.Send(b, to) }

// Intercept is the SIP user agent's Intercept: STUN answers on the SIP socket go to the
// Traversal, not to SIP.
func (t *Traversal) Intercept(b []byte, from netip.AddrPort) bool { return t.prober.Handle(b, from) }

// followChanges is the network monitor's reader when there is no STUN server (the discovery
// service reads it otherwise): after each change or wake-up it runs both hooks (the call manager
// leaves calls whose address did not change alone). It returns when ctx is done.
func (t *Traversal) followChanges(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-t.mon.Changes():
			t.nlog.Info("network changed", "reason", c.Reason, "detail", c.Detail)
			if t.hooks.OnChange != nil {
				t.hooks.OnChange(c)
			}
			if t.hooks.AfterChange != nil {
				t.hooks.AfterChange()
			}
		}
	}
}

// mapPorts asks a UPnP gateway on the LAN (or, failing that, a NAT-PMP router) (SSDP, bounded by
// UPnPTimeout) to forward the SIP port, UDP and TCP, to us, renews the mappings, and removes
// them when ctx ends (the phone quits). It returns then, or at once when no gateway answers.
func (t *Traversal) mapPorts(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, UPnPTimeout)
	var gw Gateway
	gw, err := DiscoverUPnP(dctx, "")
	cancel()
	if err != nil {
		// No UPnP: try NAT-PMP (RFC 6886) on the default route's router.
		router, rerr := DefaultGateway()
		if rerr == nil {
			var perr error
			if gw, _, perr = DiscoverPMP(router, 2*time.Second); perr != nil {
				err = errors.Join(err, perr)
			}
		}
	}
	if gw == nil {
		t.log.Info("no port mapping on the router", "err", err)
		return
	}
	port := t.sip.Port
	maps := []*PortMap{NewPortMap(gw, "udp", port, nil), NewPortMap(gw, "tcp", port, nil)}
	name := gw.Name()
	t.gwName.Store(&name)
	t.maps.Store(&maps)
	t.log.Info("the router maps the SIP port", "gateway", name, "port", port)
	var wg sync.WaitGroup
	for _, m := range maps {
		wg.Add(1)
		// Returns when ctx ends, after removing the mapping.
		go func() { defer wg.Done(); _ = m.Serve(ctx) }()
	}
	wg.Wait()
}

// mappedBy names the gateway protocol that maps our ports now, "" for none.
func (t *Traversal) mappedBy() string {
	maps := t.maps.Load()
	if maps == nil {
		return ""
	}
	for _, m := range *maps {
		if m.External() != 0 {
			return *t.gwName.Load()
		}
	}
	return ""
}

// RelaysInUse is told (by the call manager) the TURN relays calls' audio goes through, for status.
func (t *Traversal) RelaysInUse(relays []RelayUse) {
	r := slices.Clone(relays)
	t.relays.Store(&r)
}

func (t *Traversal) relaysNow() []RelayUse {
	if r := t.relays.Load(); r != nil {
		return *r
	}
	return nil
}

// perDestination compares what the STUN server and the registrars see of the SIP socket: two
// different public ports for one socket mean the NAT maps per destination (RFC 4787 §4.1), the
// case where the far end's audio cannot find us without a relay, whatever the NAT type tests said
// (most STUN servers cannot run them). It returns the finding in plain words, "" for none.
func (t *Traversal) perDestination() string {
	pub := t.SIPPublic()
	if !pub.IsValid() || t.cfg.Seen == nil {
		return ""
	}
	port := uint16(t.sip.Port)
	for _, s := range t.cfg.Seen() {
		if !s.IsValid() || s == pub {
			continue
		}
		if (s.Port() == port || pub.Port() == port) && s.Addr() == pub.Addr() {
			// One destination got our own port: a port-preserving NAT (Linux MASQUERADE, most
			// home routers) that had to pick another port for the other one because a mapping
			// of our old address still holds it (after a network change). New sockets, such as
			// a call's audio, keep their port: no relay needed.
			continue
		}
		return fmt.Sprintf("the NAT maps per destination: the STUN server sees the SIP socket at %s, the registrar at %s", pub, s)
	}
	return ""
}

// NeedRelay says whether what was seen beyond the NAT type means calls' audio needs the TURN
// relay, and why. It does not block.
func (t *Traversal) NeedRelay() (string, bool) {
	why := t.perDestination()
	return why, why != ""
}

// detected lists what was found beyond the NAT type, for status.
func (t *Traversal) detected() []string {
	if why := t.perDestination(); why != "" {
		return []string{why}
	}
	pub, seen := t.SIPPublic(), t.seenAny()
	switch {
	case !pub.IsValid() || !seen.IsValid():
		return nil
	case pub == seen:
		return []string{fmt.Sprintf("the STUN server and the registrar both see the SIP socket at %s", pub)}
	}
	return []string{fmt.Sprintf("the STUN server sees the SIP socket at %s, the registrar at %s: a port-preserving NAT that kept a mapping of our old address (not a per-destination NAT)", pub, seen)}
}

func (t *Traversal) seenAny() netip.AddrPort {
	if t.cfg.Seen == nil {
		return netip.AddrPort{}
	}
	for _, s := range t.cfg.Seen() {
		if s.IsValid() {
			return s
		}
	}
	return netip.AddrPort{}
}

// relayReason says in plain words why the TURN relay is or is not in use.
func (t *Traversal) relayReason(relays []RelayUse) string {
	if len(relays) > 0 {
		var whys []string
		for _, r := range relays {
			if r.Why != "" && !slices.Contains(whys, r.Why) {
				whys = append(whys, r.Why)
			}
		}
		return "in use: " + strings.Join(whys, "; ")
	}
	need := ""
	if rep, err := t.Report(); err == nil && rep.Symmetric() {
		need = "this network's router is a symmetric NAT"
	} else if why := t.perDestination(); why != "" {
		need = why
	}
	switch {
	case t.cfg.TURN.Server == "" && need != "":
		return "not in use: no [turn] server is configured, and one is needed: " + need
	case t.cfg.TURN.Server == "":
		return "not in use: no [turn] server is configured"
	case t.cfg.TURNNote != "":
		return "not in use: " + t.cfg.TURNNote
	case need != "":
		return "not in use: no call now; calls will use it: " + need
	}
	return "not in use: nothing says it is needed (calls move to it when no audio arrives in their first 2 s)"
}

// findSIPPublic asks the STUN server that just answered for the SIP socket's own public
// address (its mapping differs from the discovery socket's behind most NATs).
func (t *Traversal) findSIPPublic(rep Report, err error) {
	if err != nil || !rep.Server.IsValid() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := t.prober.Bind(ctx, rep.Server)
	if err != nil {
		t.log.Warn("no STUN answer on the SIP socket", "err", err)
		return
	}
	if old := t.sipPub.Load(); old == nil || *old != r.Mapped {
		t.log.Info("SIP socket's public address", "public", r.Mapped)
	}
	t.sipPub.Store(&r.Mapped)
}

// SIPPublic is the SIP listening socket's public address (STUN on that socket), invalid when
// unknown.
func (t *Traversal) SIPPublic() netip.AddrPort {
	if p := t.sipPub.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// Report is the last discovery of the public address and NAT type (ErrNotYet without a STUN
// server, or before the first discovery finished).
func (t *Traversal) Report() (Report, error) {
	if t.svc == nil {
		return Report{}, ErrNotYet
	}
	return t.svc.Report()
}

// TURN is the relay server to fall back on; ok is false when none can be used.
func (t *Traversal) TURN() (TURNConfig, bool) {
	return t.cfg.TURN, t.cfg.TURN.Server != "" && t.cfg.TURN.Password != ""
}

// Info is what status says about NAT traversal: the discovery, how the network is watched, the
// relays in use and why, what was detected, and the port mapping.
func (t *Traversal) Info() *phone.NATInfo {
	var in *phone.NATInfo
	if t.svc != nil {
		in = t.svc.Info()
	} else {
		in = &phone.NATInfo{Type: "unknown"}
	}
	if t.mon != nil {
		in.Watch = t.mon.Describe()
	}
	relays := t.relaysNow()
	for _, r := range relays {
		if in.Relay != "" {
			in.Relay += ", "
		}
		in.Relay += r.Addr.String()
	}
	in.Detected = t.detected()
	in.RelayReason = t.relayReason(relays)
	in.PortMapping = t.mappedBy()
	return in
}
