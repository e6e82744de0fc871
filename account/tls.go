package account

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Trust decides which TLS servers the phone talks to: those whose certificate chains to the system
// roots and is valid for the host dialled, and those whose certificate the user pinned for that
// host ("trayphone account trust ID": a pin belongs to one account's registrar host). It is safe
// for concurrent use.
//
// Go sends no SNI to a server given as an IP address, and the verification callback then sees no
// name at all (tls.ConnectionState.ServerName is empty): for such a connection the certificate must
// be valid for, or pinned for, one of the IP hosts the accounts use (AddHost).
type Trust struct {
	mu    sync.RWMutex
	any   map[string]bool   // fingerprints trusted for every host (NewTrust)
	pins  map[string]string // host → fingerprint pinned for it
	hosts map[string]bool   // the TLS hosts the accounts dial
	roots *x509.CertPool    // nil: the system roots
}

// NewTrust returns a Trust that accepts the given fingerprints (hex, any case, colons allowed)
// from any host; the phone itself pins per host with Pin.
func NewTrust(fingerprints ...string) *Trust {
	t := &Trust{any: map[string]bool{}, pins: map[string]string{}, hosts: map[string]bool{}}
	for _, fp := range fingerprints {
		if fp = NormalizeFingerprint(fp); fp != "" {
			t.any[fp] = true
		}
	}
	return t
}

// normalHost lowercases host and strips IPv6 brackets.
func normalHost(host string) string { return strings.ToLower(strings.Trim(host, "[]")) }

// AddHost declares a host (name or IP) an account dials over TLS.
func (t *Trust) AddHost(host string) {
	if host = normalHost(host); host != "" {
		t.mu.Lock()
		t.hosts[host] = true
		t.mu.Unlock()
	}
}

// Pin trusts the certificate with fingerprint fp for host, replacing an earlier pin.
func (t *Trust) Pin(host, fp string) {
	host, fp = normalHost(host), NormalizeFingerprint(fp)
	if host == "" || fp == "" {
		return
	}
	t.mu.Lock()
	t.pins[host] = fp
	t.hosts[host] = true
	t.mu.Unlock()
}

// PinOf parses a stored pin, "HOST FINGERPRINT"; a bare fingerprint (stored by older versions)
// belongs to defaultHost.
func PinOf(stored, defaultHost string) (host, fp string) {
	f := strings.Fields(stored)
	switch len(f) {
	case 1:
		return normalHost(defaultHost), NormalizeFingerprint(f[0])
	case 2:
		return normalHost(f[0]), NormalizeFingerprint(f[1])
	}
	return "", ""
}

// FormatPin is how a pin is stored (PinOf reads it).
func FormatPin(host, fp string) string { return normalHost(host) + " " + NormalizeFingerprint(fp) }

// NormalizeFingerprint turns "AB:CD:..." into "abcd...".
func NormalizeFingerprint(fp string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp), ":", ""))
}

// Fingerprint is the SHA-256 of a certificate's DER bytes, lowercase hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// UntrustedError is a TLS server certificate that is neither valid for the host (chain and name)
// nor pinned for it.
type UntrustedError struct {
	Fingerprint string
	// Pinned is the fingerprint pinned for the host when the certificate changed since.
	Pinned string
	Err    error
}

func (e *UntrustedError) Error() string {
	if e.Pinned != "" {
		return fmt.Sprintf("its certificate changed since you trusted it (trusted SHA-256 %s, now SHA-256 %s); if the change is expected, trust the new one with \"trayphone account trust\"", e.Pinned, e.Fingerprint)
	}
	return fmt.Sprintf("its certificate is not trusted (%v); if you know this server, trust it with \"trayphone account trust\" (SHA-256 %s)", e.Err, e.Fingerprint)
}

func (e *UntrustedError) Unwrap() error { return e.Err }

// Config returns the client TLS configuration that applies this trust.
func (t *Trust) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done in VerifyConnection: chain and host name, or a pin for the host.
		InsecureSkipVerify: true, //nolint:gosec // verified below
		VerifyConnection:   t.verify,
	}
}

func (t *Trust) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	fp := Fingerprint(leaf)
	// The hosts this connection may be for: its SNI name, else (an IP address) the accounts' IP hosts.
	t.mu.RLock()
	var hosts []string
	if cs.ServerName != "" {
		hosts = []string{normalHost(cs.ServerName)}
	} else {
		for h := range t.hosts {
			if _, err := netip.ParseAddr(h); err == nil {
				hosts = append(hosts, h)
			}
		}
	}
	ok := t.any[fp]
	pinned := ""
	for _, h := range hosts {
		if p := t.pins[h]; p != "" {
			ok = ok || p == fp
			pinned = p
		}
	}
	t.mu.RUnlock()
	if ok {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Intermediates: inter, Roots: t.roots})
	if err == nil {
		err = errors.New("the server's address is not known")
		for _, h := range hosts {
			if err = leaf.VerifyHostname(h); err == nil {
				return nil
			}
		}
	}
	return &UntrustedError{Fingerprint: fp, Pinned: pinned, Err: err}
}

// FetchCertificate connects to a TLS server and returns its certificate without judging it, for
// the user to decide whether to trust it.
func FetchCertificate(ctx context.Context, addr, serverName string) (*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		ServerName: serverName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, //nolint:gosec // shown to the user
	}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer c.Close()
	certs := c.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s sent no certificate", addr)
	}
	return certs[0], nil
}
