package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
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

// natCore adds what nat found to the core's status for the control socket.
type natCore struct {
	control.Core
	svc *nat.Service
	np  *natProvider
}

func (c natCore) Status() phone.Status {
	st := c.Core.Status()
	st.NAT = c.svc.Info()
	if r := c.np.relays.Load(); r != nil {
		st.NAT.Relay = *r
	}
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
	relays atomic.Pointer[string] // the TURN relays calls' audio goes through, "" for none

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
func (np *natProvider) RelaysInUse(addrs []netip.AddrPort) {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	r := strings.Join(s, ", ")
	np.relays.Store(&r)
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

// newNATProvider reads the [turn] settings and the TURN password from the keyring.
func newNATProvider(cfg *config.Config, secrets *account.Secrets, log *slog.Logger) *natProvider {
	np := &natProvider{log: log}
	if cfg.STUN == "" {
		return np
	}
	if cfg.TURN.Server != "" {
		pw, err := secrets.Password(turnSecretID)
		if err != nil {
			log.Warn("the TURN server has no password: set it with \"trayphone turn password\"", "server", cfg.TURN.Server)
		}
		np.turn = nat.TURNConfig{Server: cfg.TURN.Server, Username: cfg.TURN.Username, Password: pw}
	}
	return np
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

// callmgr returns np as the call manager's NAT, nil without a STUN server.
func (np *natProvider) callmgr(cfg *config.Config) callmgr.NAT {
	if cfg.STUN == "" {
		return nil
	}
	return np
}

// setupNAT prepares the NAT service and network monitor when the config names a STUN server. It
// returns the core to hand to the control socket (with NAT status added) and a function that starts
// them; their goroutines return when that function's ctx is done. onChange runs after each network
// change or wake-up, before rediscovery (re-register); afterChange after it (re-INVITE calls).
func setupNAT(cfg *config.Config, core control.Core, np *natProvider, onChange func(nat.Change), afterChange func(), log *slog.Logger) (control.Core, func(context.Context)) {
	if cfg.STUN == "" {
		return core, func(context.Context) {}
	}
	log = log.With("component", "nat")
	var last nat.Report // the report before the change; both hooks run on the service's goroutine
	var svc *nat.Service
	cfgs := nat.ServiceConfig{STUN: cfg.STUN, Log: log, OnReport: np.findSIPPublic,
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
	mon, err := nat.NewMonitor()
	if err != nil {
		log.Warn("network changes will not be noticed", "err", err)
	} else {
		cfgs.Watcher = mon
	}
	svc = nat.NewService(cfgs)
	np.svc = svc
	return natCore{Core: core, svc: svc, np: np}, func(ctx context.Context) {
		if mon != nil {
			go func() { _ = mon.Run(ctx) }()
		}
		go func() { _ = svc.Run(ctx) }()
		np.mapsDone.Add(1)
		go func() { defer np.mapsDone.Done(); np.mapPorts(ctx) }()
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
