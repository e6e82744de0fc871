package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"

	"trayphone/account"
	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/internal/config"
	"trayphone/internal/paths"
	"trayphone/internal/phone"
	"trayphone/nat"
)

// turnSecretID is the name the TURN password is kept under in the keyring (next to the accounts').
const turnSecretID = "[turn]"

// natCore adds what NAT traversal found and did to the core's status for the control socket.
type natCore struct {
	control.Core
	nat *nat.Traversal
}

func (c natCore) Status() phone.Status {
	st := c.Core.Status()
	st.NAT = c.nat.Info()
	return st
}

// natConfig is the NAT traversal the config asks for: the STUN server (stunServer), the [turn]
// server with its password from the keyring, and where the registrars saw the SIP socket (seen).
func natConfig(cfg *config.Config, secrets *account.Secrets, seen func() []netip.AddrPort, log *slog.Logger) nat.TraversalConfig {
	tc := nat.TraversalConfig{STUN: stunServer(cfg), Seen: seen, Log: log}
	if cfg.TURN.Server != "" {
		pw, err := secrets.Password(turnSecretID)
		if err != nil {
			tc.TURNNote = "the TURN server has no password: set it with \"trayphone turn password\""
			log.Warn(tc.TURNNote, "server", cfg.TURN.Server)
		}
		tc.TURN = nat.TURNConfig{Server: cfg.TURN.Server, Username: cfg.TURN.Username, Password: pw}
	}
	return tc
}

// stunServer is the server NAT discovery asks: the configured STUN server, else the TURN
// server (TURN servers answer STUN binding requests, RFC 8656 §3), else none.
func stunServer(cfg *config.Config) string {
	if cfg.STUN != "" {
		return cfg.STUN
	}
	return cfg.TURN.Server
}

// registrarViews returns where a's registrars saw the SIP socket (nat.TraversalConfig.Seen).
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

// callNAT is tr as the call manager's NAT, nil without a STUN or TURN server (calls then use
// their local address).
func callNAT(tr *nat.Traversal) callmgr.NAT {
	if !tr.Discovers() {
		return nil
	}
	return tr
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

var (
	_ callmgr.RelayReporter = (*nat.Traversal)(nil)
	_ callmgr.RelayAdvisor  = (*nat.Traversal)(nil)
)
