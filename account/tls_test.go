package account

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCA issues leaf certificates under one test root.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a server certificate for the DNS names and IPs given.
func (ca *testCA) leaf(t *testing.T, dns []string, ips []net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: dns, IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// dialAsSipgo connects to a TLS server at 127.0.0.1 the way sipgo does: the config cloned with
// ServerName set to the host it dials (an IP: Go then sends no SNI).
func dialAsSipgo(t *testing.T, trust *Trust, cert tls.Certificate) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // returns after one handshake attempt
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	cfg := trust.Config().Clone()
	cfg.ServerName = "127.0.0.1"
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
	if err == nil {
		c.Close()
	}
	return err
}

// TestTrustIPRegistrar: a registrar written as an IP address must present a certificate valid for
// that IP, or one pinned for that host with "account trust": a publicly trusted certificate for
// another name is not enough (issue 14), nor is a pin made for another host.
func TestTrustIPRegistrar(t *testing.T) {
	ca := newTestCA(t)
	other := ca.leaf(t, []string{"other.example"}, nil)
	forIP := ca.leaf(t, nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	newTrust := func() *Trust {
		tr := NewTrust()
		tr.roots = ca.pool
		tr.AddHost("127.0.0.1")
		return tr
	}

	if err := dialAsSipgo(t, newTrust(), other); err == nil {
		t.Error("a certificate for other.example was accepted for the registrar 127.0.0.1")
	}
	if err := dialAsSipgo(t, newTrust(), forIP); err != nil {
		t.Errorf("a certificate for 127.0.0.1 was refused: %v", err)
	}

	pinned := newTrust()
	pinned.Pin("127.0.0.1", Fingerprint(other.Leaf))
	if err := dialAsSipgo(t, pinned, other); err != nil {
		t.Errorf("a certificate pinned for 127.0.0.1 was refused: %v", err)
	}

	elsewhere := newTrust()
	elsewhere.Pin("sip.example.org", Fingerprint(other.Leaf))
	if err := dialAsSipgo(t, elsewhere, other); err == nil {
		t.Error("a certificate pinned for sip.example.org was accepted for 127.0.0.1")
	}

	// The server's certificate changed since it was pinned: the error shows both fingerprints.
	changed := newTrust()
	changed.Pin("127.0.0.1", Fingerprint(forIP.Leaf))
	self := newTestCA(t).leaf(t, nil, []net.IP{net.IPv4(127, 0, 0, 1)}) // not under the trusted root
	err := dialAsSipgo(t, changed, self)
	var ue *UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("changed certificate: got %v, want an UntrustedError", err)
	}
	msg := ue.Error()
	if !strings.Contains(msg, Fingerprint(forIP.Leaf)) || !strings.Contains(msg, Fingerprint(self.Leaf)) {
		t.Errorf("changed certificate: %q does not show the old and the new fingerprint", msg)
	}
}

func TestPinOf(t *testing.T) {
	for _, tc := range []struct{ stored, def, host, fp string }{
		{"AB:CD", "Reg.Example", "reg.example", "abcd"},
		{"127.0.0.1 abcd", "x", "127.0.0.1", "abcd"},
		{FormatPin("[::1]", "AB:cd"), "x", "::1", "abcd"},
		{"", "x", "", ""},
	} {
		if h, fp := PinOf(tc.stored, tc.def); h != tc.host || fp != tc.fp {
			t.Errorf("PinOf(%q, %q) = %q, %q; want %q, %q", tc.stored, tc.def, h, fp, tc.host, tc.fp)
		}
	}
}
