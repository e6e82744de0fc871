package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"trayphone/account"
	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/internal/config"
	"trayphone/internal/paths"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/media"
	"trayphone/nat"
	"trayphone/presence"
)

// accounts wires the SIP accounts into the running phone: secrets, TLS trust, one registration per
// account, and the control commands "account.reload".
type accounts struct {
	log     *slog.Logger
	secrets *account.Secrets
	trust   *account.Trust
	specs   []account.Spec
	set     *account.Set
	pres    *presence.Set
	mgr     *callmgr.Manager
	done    chan struct{}
}

// secretsDir is where secrets go when there is no OS keyring.
func secretsDir(p paths.Paths) string { return filepath.Join(p.State, "secrets") }

// setupAccounts reads the [[account]] tables; a broken one is logged and left out.
func setupAccounts(cfg *config.Config, p paths.Paths, log *slog.Logger) *accounts {
	a := &accounts{log: log.With("component", "account"), done: make(chan struct{})}
	a.secrets = account.NewSecrets(secretsDir(p), a.log)
	a.trust = account.NewTrust()
	for _, c := range cfg.Accounts {
		spec, err := account.FromConfig(c)
		if err != nil {
			a.log.Error("account left out", "error", err)
			continue
		}
		a.specs = append(a.specs, spec)
		a.pin(spec)
	}
	return a
}

// pin gives the TLS trust spec's host and the certificate pinned for it ("account trust").
func (a *accounts) pin(spec account.Spec) {
	if spec.Transport != "tls" {
		return
	}
	a.trust.AddHost(spec.Proxy.Host)
	if stored, err := a.secrets.Fingerprint(spec.ID); err == nil {
		if host, fp := account.PinOf(stored, spec.Proxy.Host); host == strings.ToLower(strings.Trim(spec.Proxy.Host, "[]")) {
			a.trust.Pin(host, fp)
		}
	}
}

// TLS is the user agent's client TLS configuration (system roots plus trusted fingerprints).
func (a *accounts) TLS() *tls.Config { return a.trust.Config() }

// Attach creates the registrations on ua and returns them for the call manager (nil without
// accounts).
func (a *accounts) Attach(ua *sipua.UA) callmgr.Accounts {
	if len(a.specs) == 0 {
		return nil
	}
	a.set = account.NewSet(a.specs, ua, a.secrets.Password, account.WithLogger(a.log),
		account.WithOnChange(func(info phone.AccountInfo) {
			if a.pres != nil {
				a.pres.AccountChanged(info) // (re-)subscribes once registered, with the new Contact
			}
			if a.mgr != nil {
				a.mgr.AccountChanged(info)
			}
		}))
	return a.set
}

// Subscriptions creates the event subscriptions on ua: each account's voicemail box (MWI) and the
// line of each favorite in an account's domain (BLF). It returns them for the call manager with
// the watched favorites (nil, nil without accounts). Call it after Attach.
func (a *accounts) Subscriptions(ua *sipua.UA, favorites map[string]string) (callmgr.Presence, []phone.FavoriteState) {
	if a.set == nil {
		return nil, nil
	}
	specs, watched := presence.Plan(a.specs, a.set.AccountFor, favorites)
	a.pres = presence.NewSet(ua, a.set.Outbound, a.set.Admit, specs, presence.WithLogger(a.log.With("component", "presence")))
	return a.pres, watched
}

// Run starts registering (one goroutine per account, ending after un-REGISTER when ctx is done)
// and adds the "account.reload" control command.
func (a *accounts) Run(ctx context.Context, mgr *callmgr.Manager, ctl *control.Server) {
	a.mgr = mgr
	ctl.Handle("account.reload", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args struct {
			ID string `json:"id"`
		}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, fmt.Errorf("account.reload: %v", err)
			}
		}
		if a.set == nil {
			return nil, errors.New("no account is configured")
		}
		for _, spec := range a.specs {
			if spec.ID == args.ID {
				a.pin(spec)
			}
		}
		return nil, a.set.Reload(args.ID)
	})
	if a.set == nil {
		close(a.done)
		return
	}
	go func() { // ends when registrations and subscriptions have ended (both bounded after ctx)
		var wg sync.WaitGroup
		if a.pres != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = a.pres.Serve(ctx) }()
		}
		_ = a.set.Serve(ctx)
		wg.Wait()
		close(a.done)
	}()
}

// NetworkChanged re-registers every account after a network change or a wake-up: the old flow
// (NAT mapping, TCP connection, local address) may be gone.
func (a *accounts) NetworkChanged(c nat.Change) {
	if a.set != nil {
		a.log.Info("re-registering after a network change", "reason", c.Reason, "detail", c.Detail)
		_ = a.set.Kick("")
	}
}

// Wait waits for the un-REGISTERs after shutdown (bounded).
func (a *accounts) Wait() {
	select {
	case <-a.done:
	case <-time.After(account.UnregisterTimeout + time.Second):
		a.log.Warn("accounts did not unregister in time")
	}
}

// dtlsCertificate returns the phone's DTLS-SRTP certificate: the one kept with the secrets
// (keyring, or the 0600 fallback file), or a new one stored there. When the secrets cannot be
// read or written (a locked keyring) the certificate is made for this run only, which works
// but changes the fingerprint far ends see at each start. Neither key nor PEM is logged.
func dtlsCertificate(secrets *account.Secrets, log *slog.Logger) *tls.Certificate {
	now := time.Now()
	stored, err := secrets.DTLSCertificate()
	if err == nil {
		cert, derr := media.DecodeDTLSCertificate([]byte(stored), now)
		if derr == nil {
			return &cert
		}
		log.Info("making a new DTLS-SRTP certificate", "reason", derr)
	} else if !errors.Is(err, account.ErrNoPassword) {
		log.Warn("the DTLS-SRTP certificate cannot be read: using one for this run only", "err", err)
		cert, err := media.NewDTLSCertificate(now)
		if err != nil {
			return nil // callmgr makes one
		}
		return &cert
	}
	cert, err := media.NewDTLSCertificate(now)
	if err != nil {
		return nil
	}
	b, err := media.EncodeDTLSCertificate(cert)
	if err == nil {
		err = secrets.SetDTLSCertificate(string(b))
	}
	if err != nil {
		log.Warn("the DTLS-SRTP certificate cannot be stored: using it for this run only", "err", err)
	}
	return &cert
}

// printAccountUsage adds the account commands to "trayphone help".
func printAccountUsage(w io.Writer) {
	usageLine(w, "account password ID", "store account ID's password (keyring; asked without echo, or read from stdin)")
	usageLine(w, "account trust ID", "show the TLS certificate of account ID's registrar and trust it")
}

// runAccountCommand runs "trayphone account password ID" and "trayphone account trust ID".
func runAccountCommand(ctx context.Context, p paths.Paths, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: trayphone account password ID   store the account's password (read from the terminal or stdin)")
		fmt.Fprintln(stderr, "       trayphone account trust ID      show the registrar's TLS certificate and trust it")
		return 2
	}
	if len(args) != 2 {
		return usage()
	}
	verb, id := args[0], args[1]
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := config.Load(p.Config, config.LoadOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 2
	}
	var spec *account.Spec
	for _, c := range cfg.Accounts {
		if c.ID == id {
			s, err := account.FromConfig(c)
			if err != nil {
				fmt.Fprintf(stderr, "trayphone: %v\n", err)
				return 2
			}
			spec = &s
		}
	}
	if spec == nil {
		fmt.Fprintf(stderr, "trayphone: no account %q in %s\n", id, p.Config)
		return 2
	}
	secrets := account.NewSecrets(secretsDir(p), log)
	switch verb {
	case "password":
		pw, err := readPassword(stdin, stderr, fmt.Sprintf("Password for %s: ", spec.Name()))
		if err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		if err := secrets.SetPassword(id, pw); err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "password for %s stored\n", spec.Name())
	case "trust":
		if spec.Transport != "tls" {
			fmt.Fprintf(stderr, "trayphone: account %s does not use TLS (transport = %q)\n", id, spec.Transport)
			return 2
		}
		cert, err := account.FetchCertificate(ctx, spec.HopAddr(), spec.Proxy.Host)
		if err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		fp := account.Fingerprint(cert)
		fmt.Fprintf(stdout, "%s presents a certificate for %q issued by %q, valid until %s\nSHA-256 fingerprint: %s\n",
			spec.HopAddr(), cert.Subject.CommonName, cert.Issuer.CommonName, cert.NotAfter.Format("2006-01-02"), colonHex(fp))
		if stored, err := secrets.Fingerprint(id); err == nil {
			host, old := account.PinOf(stored, spec.Proxy.Host)
			switch {
			case old == fp && host == strings.ToLower(strings.Trim(spec.Proxy.Host, "[]")):
				fmt.Fprintln(stdout, "This certificate is already trusted for this account.")
			case old != fp:
				fmt.Fprintf(stdout, "The certificate CHANGED since you trusted it for %s:\n  old SHA-256: %s\n  new SHA-256: %s\n", host, colonHex(old), colonHex(fp))
			default:
				fmt.Fprintf(stdout, "The trusted certificate was for another host (%s).\n", host)
			}
		}
		fmt.Fprint(stdout, "Trust this certificate for this account? [y/N] ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "not trusted")
			return 1
		}
		if err := secrets.SetFingerprint(id, account.FormatPin(spec.Proxy.Host, fp)); err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "trusted")
	default:
		return usage()
	}
	// Tell a running phone to pick it up and register again now.
	if c, err := control.Dial(p.Socket); err == nil {
		defer c.Close()
		if err := c.Do(ctx, "account.reload", map[string]string{"id": id}, nil); err != nil {
			fmt.Fprintf(stderr, "trayphone: the running phone did not re-register: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "the running phone is registering again")
	}
	return 0
}

// readPassword reads one line: from a terminal without echo, or from a pipe as is.
func readPassword(stdin io.Reader, prompt io.Writer, text string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// Linux, macOS and Windows consoles alike, with no program of the system's to run.
		fmt.Fprint(prompt, text)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("cannot read a password from this terminal: %v", err)
		}
		if len(b) == 0 {
			return "", errors.New("no password given")
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password given")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given")
	}
	return pw, nil
}

func colonHex(h string) string {
	var parts []string
	for i := 0; i+1 < len(h); i += 2 {
		parts = append(parts, strings.ToUpper(h[i:i+2]))
	}
	return strings.Join(parts, ":")
}
