package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"trayphone/account"
)

// TestDTLSCertificateKept: the phone's DTLS-SRTP certificate is made once and kept with the
// secrets (here the fallback file: no session bus), 0600; the next start finds the same one; a
// file others could read is not used (a certificate for this run only, with a warning); the log
// never shows the key.
func TestDTLSCertificateKept(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "secrets")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	secrets := account.NewSecrets(dir, log)
	first := dtlsCertificate(secrets, log)
	if first == nil {
		t.Fatal("no certificate")
	}
	file := filepath.Join(dir, "dtls-certificate")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("certificate file mode %s, want 0600", perm)
	}
	again := dtlsCertificate(account.NewSecrets(dir, log), log)
	if again == nil || !bytes.Equal(again.Certificate[0], first.Certificate[0]) {
		t.Error("the next start made another certificate")
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	other := dtlsCertificate(account.NewSecrets(dir, log), log)
	if other == nil || bytes.Equal(other.Certificate[0], first.Certificate[0]) || !strings.Contains(logs.String(), "for this run only") {
		t.Errorf("a certificate file others can read was used (or no warning):\n%s", logs.String())
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := dtlsCertificate(account.NewSecrets(dir, log), log); c == nil || !strings.Contains(logs.String(), "making a new DTLS-SRTP certificate") {
		t.Errorf("a broken certificate file was not replaced:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || strings.Contains(logs.String(), "BEGIN") {
		t.Errorf("the log shows the certificate's PEM:\n%s", logs.String())
	}
}
