package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"trayphone/account"
	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/internal/config"
	"trayphone/internal/paths"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/nat"
)

// turnSecretID is the name the TURN password is kept under in the keyring (next to the accounts').
const turnSecretID = "[turn]"

// natCore adds what nat found and did to the core's status for the control socket.
type natCore struct {
	control.Core
	svc *nat.Service // nil without a STUN server
	mon *nat.Monitor // nil when the network cannot be watched
	np  *natProvider
}

func (c natCore) Status() phone.Status {
	st := c.Core.Status()
	if c.svc != nil {
		st.NAT = c.svc.Info()
	} else {
		st.NAT = &phone.NATInfo{Type: "unknown"}
	}
	if c.mon != nil {
		st.NAT.Watch = c.mon.Describe()
	}
	relays := c.np.relaysNow()
	for _, r := range relays {
		if st.NAT.Relay != "" {
			st.NAT.Relay += ", "
		}
		st.NAT.Relay += r.Addr.String()
	}
	st.NAT.Detected = c.np.detected()
	st.NAT.RelayReason = c.np.relayReason(relays)
	st.NAT.PortMapping = c.np.mappedBy()
	return st
}

// natProvider is what the call manager sees of NAT traversal (callmgr.NAT): the service's last
// report and the TURN server. Its service is set by setupNAT; before that (or without a STUN
// server) it reports nothing and calls use their local address.
type natProvider struct {
	svc  *nat.Service
	turn nat.TURNConfig
	log  *slog.Logger

	prober *nat.Prober // STUN on the SIP socket: sends through ua.SendUDP, answers come via intercept
	sipPub atomic.Pointer[netip.AddrPort]
	relays atomic.Pointer[[]callmgr.RelayUse] // the TURN relays calls' audio goes through, and why
	// seen returns where the registrars saw the SIP socket (UDP accounts, Via received/rport);
	// nil without accounts.
	seen     func() []netip.AddrPort
	turnNote string // why the configured TURN server cannot be used, "" when it can

	ua       *sipua.UA                      // its listening port is mapped on a UPnP gateway
	maps     atomic.Pointer[[]*nat.PortMap] // the gateway's mappings once one was found
	gwName   string                         // its protocol, set before maps
	mapsDone sync.WaitGroup                 // mapPorts, until its mappings are removed
}

// mapPorts asks a UPnP gateway on the LAN (or, failing that, a NAT-PMP router) (SSDP, bounded by nat.UPnPTimeout) to forward the SIP
// port, UDP and TCP, to us, renews the mappings, and removes them when ctx ends (the phone
// quits). It returns then, or at once when no gateway answers.
func (np *natProvider) mapPorts(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, nat.UPnPTimeout)
	var gw nat.Gateway
	gw, err := nat.DiscoverUPnP(dctx, "")
	cancel()
	if err != nil {
		// No UPnP: try NAT-PMP (RFC 6886) on the default route's router.
		router, rerr := nat.DefaultGateway()
		if rerr == nil {
			var perr error
			if gw, _, perr = nat.DiscoverPMP(router, 2*time.Second); perr != nil {
				err = errors.Join(err, perr)
			}
		}
	}
	if gw == nil {
		np.log.Info("no port mapping on the router", "err", err)
		return
	}
	if np.ua == nil {
		return
	}
	port := np.ua.Port
	maps := []*nat.PortMap{nat.NewPortMap(gw, "udp", port, nil), nat.NewPortMap(gw, "tcp", port, nil)}
	np.gwName = gw.Name()
	np.maps.Store(&maps)
	np.log.Info("the router maps the SIP port", "gateway", gw.Name(), "port", port)
	var wg sync.WaitGroup
	for _, m := range maps {
		wg.Add(1)
		// Returns when ctx ends, after removing the mapping.
		go func() { defer wg.Done(); _ = m.Serve(ctx) }()
	}
	wg.Wait()
}

// mappedBy names the gateway protocol that maps our ports now, "" for none.
func (np *natProvider) mappedBy() string {
	maps := np.maps.Load()
	if maps == nil {
		return ""
	}
	for _, m := range *maps {
		if m.External() != 0 {
			return np.gwName
		}
	}
	return ""
}

// wait gives the port mappings a moment to be removed at quit (a gateway that does not answer
// does not hold the phone up for long).
func (np *natProvider) wait() {
	done := make(chan struct{})
	// Returns when mapPorts has (it ends with the phone's context).
	go func() { np.mapsDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(nat.UPnPTimeout + time.Second):
	}
}

// RelaysInUse makes the provider a callmgr.RelayReporter: status shows the relays in use.
func (np *natProvider) RelaysInUse(relays []callmgr.RelayUse) {
	r := slices.Clone(relays)
	np.relays.Store(&r)
}

func (np *natProvider) relaysNow() []callmgr.RelayUse {
	if r := np.relays.Load(); r != nil {
		return *r
	}
	return nil
}

// perDestination compares what the STUN server and the registrars see of the SIP socket: two
// different public ports for one socket mean the NAT maps per destination (RFC 4787 §4.1), the
// case where the far end's audio cannot find us without a relay, whatever the NAT type tests said
// (most STUN servers cannot run them). It returns the finding in plain words, "" for none.
func (np *natProvider) perDestination() string {
	pub := np.SIPPublic()
	if !pub.IsValid() || np.seen == nil {
		return ""
	}
	for _, s := range np.seen() {
		if !s.IsValid() || s == pub {
			continue
		}
		if np.ua != nil && (s.Port() == uint16(np.ua.Port) || pub.Port() == uint16(np.ua.Port)) && s.Addr() == pub.Addr() {
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

// NeedRelay makes the provider a callmgr.RelayAdvisor.
func (np *natProvider) NeedRelay() (string, bool) {
	why := np.perDestination()
	return why, why != ""
}

// detected lists what was found beyond the NAT type, for status.
func (np *natProvider) detected() []string {
	if why := np.perDestination(); why != "" {
		return []string{why}
	}
	pub, seen := np.SIPPublic(), np.seenAny()
	switch {
	case !pub.IsValid() || !seen.IsValid():
		return nil
	case pub == seen:
		return []string{fmt.Sprintf("the STUN server and the registrar both see the SIP socket at %s", pub)}
	}
	return []string{fmt.Sprintf("the STUN server sees the SIP socket at %s, the registrar at %s: a port-preserving NAT that kept a mapping of our old address (not a per-destination NAT)", pub, seen)}
}

func (np *natProvider) seenAny() netip.AddrPort {
	if np.seen == nil {
		return netip.AddrPort{}
	}
	for _, s := range np.seen() {
		if s.IsValid() {
			return s
		}
	}
	return netip.AddrPort{}
}

// relayReason says in plain words why the TURN relay is or is not in use.
func (np *natProvider) relayReason(relays []callmgr.RelayUse) string {
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
	if rep, err := np.Report(); err == nil && rep.Symmetric() {
		need = "this network's router is a symmetric NAT"
	} else if why := np.perDestination(); why != "" {
		need = why
	}
	switch {
	case np.turn.Server == "" && need != "":
		return "not in use: no [turn] server is configured, and one is needed: " + need
	case np.turn.Server == "":
		return "not in use: no [turn] server is configured"
	case np.turnNote != "":
		return "not in use: " + np.turnNote
	case need != "":
		return "not in use: no call now; calls will use it: " + need
	}
	return "not in use: nothing says it is needed (calls move to it when no audio arrives in their first 2 s)"
}

// attach lets STUN run on ua's SIP socket.
func (np *natProvider) attach(ua *sipua.UA) {
	np.prober = nat.NewProber(ua.SendUDP, nil)
	np.ua = ua
}

// intercept is sipua's Intercept: STUN answers on the SIP socket go to the prober, not to SIP.
func (np *natProvider) intercept(b []byte, from netip.AddrPort) bool {
	return np.prober != nil && np.prober.Handle(b, from)
}

// findSIPPublic asks the STUN server that just answered for the SIP socket's own public
// address (its mapping differs from the discovery socket's behind most NATs).
func (np *natProvider) findSIPPublic(rep nat.Report, err error) {
	if err != nil || np.prober == nil || !rep.Server.IsValid() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := np.prober.Bind(ctx, rep.Server)
	if err != nil {
		np.log.Warn("no STUN answer on the SIP socket", "err", err)
		return
	}
	if old := np.sipPub.Load(); old == nil || *old != r.Mapped {
		np.log.Info("SIP socket's public address", "public", r.Mapped)
	}
	np.sipPub.Store(&r.Mapped)
}

func (np *natProvider) SIPPublic() netip.AddrPort {
	if p := np.sipPub.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// newNATProvider reads the [turn] settings and the TURN password from the keyring. seen
// returns where the registrars saw the SIP socket.
func newNATProvider(cfg *config.Config, secrets *account.Secrets, seen func() []netip.AddrPort, log *slog.Logger) *natProvider {
	np := &natProvider{log: log, seen: seen}
	if cfg.TURN.Server != "" {
		pw, err := secrets.Password(turnSecretID)
		if err != nil {
			np.turnNote = "the TURN server has no password: set it with \"trayphone turn password\""
			log.Warn(np.turnNote, "server", cfg.TURN.Server)
		}
		np.turn = nat.TURNConfig{Server: cfg.TURN.Server, Username: cfg.TURN.Username, Password: pw}
	}
	return np
}

// stunServer is the server NAT discovery asks: the configured STUN server, else the TURN
// server (TURN servers answer STUN binding requests, RFC 8656 §3), else none.
func stunServer(cfg *config.Config) string {
	if cfg.STUN != "" {
		return cfg.STUN
	}
	return cfg.TURN.Server
}

// registrarViews returns where a's registrars saw the SIP socket (see natProvider.seen).
func registrarViews(a *accounts) func() []netip.AddrPort {
	return func() []netip.AddrPort {
		if a.set == nil {
			return nil
		}
		var out []netip.AddrPort
		for _, r := range a.set.Registrations() {
			out = append(out, r.SeenAt())
		}
		return out
	}
}

func (np *natProvider) Report() (nat.Report, error) {
	if np.svc == nil {
		return nat.Report{}, nat.ErrNotYet
	}
	return np.svc.Report()
}

func (np *natProvider) TURN() (nat.TURNConfig, bool) {
	return np.turn, np.turn.Server != "" && np.turn.Password != ""
}

// callmgr returns np as the call manager's NAT, nil without a STUN or TURN server.
func (np *natProvider) callmgr(cfg *config.Config) callmgr.NAT {
	if stunServer(cfg) == "" {
		return nil
	}
	return np
}

// setupNAT prepares the network monitor (always: a laptop changes networks and sleeps whether or
// not a STUN server is configured) and, with a STUN (or TURN) server, the NAT service. It returns
// the core to hand to the control socket (with NAT status added) and a function that starts
// them; their goroutines return when that function's ctx is done. onChange runs after each network
// change or wake-up, before rediscovery (re-register); afterChange after it (re-INVITE calls).
func setupNAT(cfg *config.Config, core control.Core, np *natProvider, onChange func(nat.Change), afterChange func(), log *slog.Logger) (control.Core, func(context.Context)) {
	log = log.With("component", "nat")
	mon, err := nat.NewMonitor(nat.WithMonitorLog(log))
	if err != nil {
		log.Warn("network changes will not be noticed", "err", err)
		mon = nil
	}
	server := stunServer(cfg)
	if server == "" {
		nc := natCore{Core: core, mon: mon, np: np}
		return nc, func(ctx context.Context) {
			if mon == nil {
				return
			}
			go func() { _ = mon.Run(ctx) }()
			go followChanges(ctx, mon, onChange, afterChange, log)
		}
	}
	var last nat.Report // the report before the change; both hooks run on the service's goroutine
	var svc *nat.Service
	cfgs := nat.ServiceConfig{STUN: server, Log: log, OnReport: np.findSIPPublic,
		OnChange: func(c nat.Change) {
			last, _ = svc.Report()
			onChange(c)
		},
		AfterChange: func(rep nat.Report, err error) {
			// Calls are re-offered only when our address really moved: address events that
			// change nothing (an IPv6 address becoming valid) must not re-INVITE every call.
			if err != nil || (rep.Local.Addr() == last.Local.Addr() && rep.Public.Addr() == last.Public.Addr()) {
				return
			}
			afterChange()
		}}
	if mon != nil {
		cfgs.Watcher = mon
	}
	svc = nat.NewService(cfgs)
	np.svc = svc
	return natCore{Core: core, svc: svc, mon: mon, np: np}, func(ctx context.Context) {
		if mon != nil {
			go func() { _ = mon.Run(ctx) }()
		}
		go func() { _ = svc.Run(ctx) }()
		np.mapsDone.Add(1)
		go func() { defer np.mapsDone.Done(); np.mapPorts(ctx) }()
	}
}

// followChanges is the network monitor's reader when there is no STUN server (the NAT service
// reads it otherwise): after each change or wake-up it re-registers (onChange) and offers calls
// our new address (afterChange; the call manager leaves calls whose address did not change
// alone). It returns when ctx is done.
func followChanges(ctx context.Context, w nat.Watcher, onChange func(nat.Change), afterChange func(), log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-w.Changes():
			log.Info("network changed", "reason", c.Reason, "detail", c.Detail)
			onChange(c)
			afterChange()
		}
	}
}

// runTURNCommand is "trayphone turn password": it stores the TURN server's password in the keyring
// (read without echo on a terminal, or from a pipe).
func runTURNCommand(p paths.Paths, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "password" {
		fmt.Fprintln(stderr, "usage: trayphone turn password   (stores the [turn] server's password in the keyring)")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := config.Load(p.Config, config.LoadOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 2
	}
	if cfg.TURN.Server == "" {
		fmt.Fprintf(stderr, "trayphone: no [turn] server in %s\n", p.Config)
		return 2
	}
	pw, err := readPassword(stdin, stderr, fmt.Sprintf("Password for the TURN server %s: ", cfg.TURN.Server))
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	if err := account.NewSecrets(secretsDir(p), log).SetPassword(turnSecretID, pw); err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "TURN password stored; it is used from the next start of the phone")
	return 0
}

var _ callmgr.RelayReporter = (*natProvider)(nil)
