package account

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/zalando/go-keyring"
)

// keyringService is the service name secrets are filed under in the OS keyring.
const keyringService = "trayphone"

// ErrNoPassword is returned when an account has no stored password.
var ErrNoPassword = errors.New("no password stored")

// Secrets stores account passwords and trusted TLS fingerprints in the OS keyring. Where no keyring
// is available it falls back to one 0600 file per secret in Dir (a 0700 directory) and logs a
// warning once. Secret values never reach the log.
type Secrets struct {
	// Dir is the fallback directory (e.g. the state directory's "secrets").
	Dir string
	Log *slog.Logger

	warned bool
}

// NewSecrets returns a store that falls back to dir.
func NewSecrets(dir string, log *slog.Logger) *Secrets {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Secrets{Dir: dir, Log: log}
}

// Password returns the password of account id.
func (s *Secrets) Password(id string) (string, error) { return s.get("password:" + id) }

// SetPassword stores the password of account id.
func (s *Secrets) SetPassword(id, password string) error {
	if password == "" {
		return errors.New("the password is empty")
	}
	return s.set("password:"+id, password)
}

// Fingerprint returns the SHA-256 fingerprint (hex) the user trusts for account id's TLS server.
func (s *Secrets) Fingerprint(id string) (string, error) { return s.get("tls:" + id) }

// SetFingerprint trusts a TLS server certificate fingerprint for account id.
func (s *Secrets) SetFingerprint(id, fp string) error { return s.set("tls:"+id, fp) }

func (s *Secrets) get(key string) (string, error) {
	v, err := keyring.Get(keyringService, key)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, keyring.ErrNotFound) {
		s.warn(err)
	}
	b, ferr := os.ReadFile(s.file(key))
	if ferr == nil {
		return strings.TrimRight(string(b), "\n"), nil
	}
	if errors.Is(ferr, os.ErrNotExist) {
		return "", ErrNoPassword
	}
	return "", fmt.Errorf("read secret: %w", ferr)
}

func (s *Secrets) set(key, value string) error {
	err := keyring.Set(keyringService, key, value)
	if err == nil {
		_ = os.Remove(s.file(key)) // a stale fallback copy must not shadow nor outlive it
		return nil
	}
	s.warn(err)
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("store secret: %w", err)
	}
	tmp, err := os.CreateTemp(s.Dir, ".secret-*")
	if err != nil {
		return fmt.Errorf("store secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("store secret: %w", err)
	}
	if _, err := tmp.WriteString(value); err != nil {
		tmp.Close()
		return fmt.Errorf("store secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store secret: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.file(key)); err != nil {
		return fmt.Errorf("store secret: %w", err)
	}
	return nil
}

func (s *Secrets) warn(err error) {
	if s.warned {
		return
	}
	s.warned = true
	s.Log.Warn("no OS keyring available: keeping secrets in a private file instead", "dir", s.Dir, "reason", err.Error())
}

// file maps a key ("password:work") to a file name that is safe on every system.
func (s *Secrets) file(key string) string {
	r := strings.NewReplacer(":", "-", "/", "_", "\\", "_")
	return filepath.Join(s.Dir, r.Replace(key))
}
