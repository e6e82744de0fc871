package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"trayphone/account"
	"trayphone/internal/paths"
)

// selfSigned returns a self-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "registrar"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// serveTLS accepts TLS handshakes with cert on ln until it is closed.
func serveTLS(ln net.Listener, cert tls.Certificate) {
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { _ = tls.Server(c, cfg).Handshake(); c.Close() }()
	}
}

// TestAccountTrustCommand: "account trust" pins the registrar's certificate for the account's
// host, and when the certificate changed it shows the old and the new fingerprint.
func TestAccountTrustCommand(t *testing.T) {
	keyring.MockInit()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	first, second := selfSigned(t), selfSigned(t)
	go serveTLS(ln, first)
	p := paths.Resolve(t.TempDir())
	cfg := fmt.Sprintf("[[account]]\nid = \"work\"\naor = \"sip:alice@example.org\"\nregistrar = \"sip:127.0.0.1:%d\"\ntransport = \"tls\"\n", port)
	if err := os.WriteFile(p.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := runAccountCommand(context.Background(), p, []string{"trust", "work"}, strings.NewReader("y\n"), &out, &errb); code != 0 {
		t.Fatalf("trust: exit %d: %s%s", code, out.String(), errb.String())
	}
	secrets := account.NewSecrets(secretsDir(p), nil)
	fp1 := account.Fingerprint(first.Leaf)
	if got, _ := secrets.Fingerprint("work"); got != "127.0.0.1 "+fp1 {
		t.Errorf("stored pin %q, want %q", got, "127.0.0.1 "+fp1)
	}
	ln.Close()

	ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveTLS(ln, second)
	out.Reset()
	if code := runAccountCommand(context.Background(), p, []string{"trust", "work"}, strings.NewReader("n\n"), &out, &errb); code != 1 {
		t.Errorf("declined trust: exit %d, want 1", code)
	}
	fp2 := account.Fingerprint(second.Leaf)
	for _, want := range []string{"CHANGED", colonHex(fp1), colonHex(fp2)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got, _ := secrets.Fingerprint("work"); got != "127.0.0.1 "+fp1 {
		t.Errorf("after declining, stored pin %q, want the old one", got)
	}
}
