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
	"strings"
	"sync"
	"time"
)

// Trust decides which TLS servers the phone talks to: those whose certificate chains to the system
// roots and names the server, and those whose certificate the user trusted explicitly by its SHA-256
// fingerprint ("trayphone account trust ID"). It is safe for concurrent use.
type Trust struct {
	mu    sync.RWMutex
	fps   map[string]bool
	roots *x509.CertPool // nil: the system roots
}

// NewTrust returns a Trust that accepts the given fingerprints (hex, any case, colons allowed).
func NewTrust(fingerprints ...string) *Trust {
	t := &Trust{fps: map[string]bool{}}
	for _, fp := range fingerprints {
		t.Add(fp)
	}
	return t
}

// Add trusts one more certificate fingerprint.
func (t *Trust) Add(fp string) {
	if fp = NormalizeFingerprint(fp); fp != "" {
		t.mu.Lock()
		t.fps[fp] = true
		t.mu.Unlock()
	}
}

// NormalizeFingerprint turns "AB:CD:..." into "abcd...".
func NormalizeFingerprint(fp string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp), ":", ""))
}

// Fingerprint is the SHA-256 of a certificate's DER bytes, lowercase hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// UntrustedError is a TLS server certificate that neither chains to a trusted root nor was trusted
// by fingerprint.
type UntrustedError struct {
	Fingerprint string
	Err         error
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("its certificate is not trusted (%v); if you know this server, trust it with \"trayphone account trust\" (SHA-256 %s)", e.Err, e.Fingerprint)
}

func (e *UntrustedError) Unwrap() error { return e.Err }

// Config returns the client TLS configuration that applies this trust.
func (t *Trust) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done in VerifyConnection: system roots, or a trusted fingerprint.
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
	t.mu.RLock()
	ok := t.fps[fp]
	t.mu.RUnlock()
	if ok {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter, Roots: t.roots})
	if err != nil {
		return &UntrustedError{Fingerprint: fp, Err: err}
	}
	return nil
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
