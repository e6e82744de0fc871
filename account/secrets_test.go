package account

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

func TestSecretsKeyring(t *testing.T) {
	keyring.MockInit()
	var logs bytes.Buffer
	s := NewSecrets(t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
	s.sessionBus = func() bool { return true } // the mock keyring needs none
	if _, err := s.Password("work"); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("no password yet: got %v, want ErrNoPassword", err)
	}
	if err := s.SetPassword("work", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Password("work"); err != nil || got != "hunter2" {
		t.Fatalf("Password: got %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(s.Dir); len(entries) != 0 {
		t.Errorf("a keyring is available, yet files were written: %v", entries)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the password reached the log: %s", logs.String())
	}
}

func TestSecretsFileFallback(t *testing.T) {
	keyring.MockInitWithError(errors.New("no secret service on this bus"))
	t.Cleanup(keyring.MockInit)
	var logs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "secrets")
	s := NewSecrets(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	s.sessionBus = func() bool { return true } // the mock keyring needs none
	if err := s.SetPassword("work", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Password("work"); err != nil || got != "hunter2" {
		t.Fatalf("Password: got %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "password-work"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("secret dir mode %v, want 0700", di.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "no OS keyring available") {
		t.Errorf("no warning logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the password reached the log: %s", logs.String())
	}
	if err := s.SetPassword("work", ""); err == nil {
		t.Error("an empty password was accepted")
	}
}

// TestSecretsFileRefusedWhenNotPrivate: a fallback secret file others may read, or another user
// owns, is not used, and the error says why and what to do.
func TestSecretsFileRefusedWhenNotPrivate(t *testing.T) {
	keyring.MockInitWithError(errors.New("no secret service on this bus"))
	t.Cleanup(keyring.MockInit)
	dir := filepath.Join(t.TempDir(), "secrets")
	s := NewSecrets(dir, slog.New(slog.DiscardHandler))
	s.sessionBus = func() bool { return true }
	if err := s.SetPassword("work", "hunter2"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "password-work")
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := s.Password("work")
	if err == nil || got != "" || !strings.Contains(err.Error(), "other users") || !strings.Contains(err.Error(), "0644") && !strings.Contains(err.Error(), "-rw-r--r--") {
		t.Errorf("mode 0644: got %q, %v; want a refusal that names the mode", got, err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Password("work"); err != nil || got != "hunter2" {
		t.Errorf("mode 0600: got %q, %v", got, err)
	}
	if os.Geteuid() != 0 {
		return // only root can give the file away
	}
	if err := os.Chown(file, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Password("work"); err == nil || got != "" || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("owned by nobody: got %q, %v; want a refusal that names the owner", got, err)
	}
}
