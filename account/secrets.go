package account

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// keyringService is the service name secrets are filed under in the OS keyring.
const keyringService = "trayphone"

// KeyringTimeout bounds one read from the OS keyring. A Secret Service whose collection is locked
// shows an unlock prompt and answers only when the user has dealt with it; a read that takes longer
// is reported as ErrKeyringLocked (and picked up by a later read once it is unlocked).
const KeyringTimeout = 3 * time.Second

// What reading a secret can fail with; the errors Password returns wrap one of them.
var (
	// ErrNoPassword: the keyring (or the 0600 file) answered, and there is no such secret.
	ErrNoPassword = errors.New("no password stored")
	// ErrKeyringUnreachable: no keyring service answers (not started yet at login, crashed).
	ErrKeyringUnreachable = errors.New("keyring not reachable")
	// ErrKeyringLocked: the keyring is locked (its unlock prompt was dismissed, or not answered
	// within KeyringTimeout).
	ErrKeyringLocked = errors.New("keyring locked")
)

// Backend is an OS keyring (github.com/zalando/go-keyring's functions satisfy it).
type Backend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
}

// osKeyring is the platform keyring through go-keyring.
type osKeyring struct{}

func (osKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (osKeyring) Set(service, user, pw string) error       { return keyring.Set(service, user, pw) }

// Secrets stores account passwords and trusted TLS fingerprints in the OS keyring. Where no keyring
// can be used it falls back to one 0600 file per secret in Dir (a 0700 directory) and logs a
// warning once. On Linux and the BSDs, without a session bus (DBUS_SESSION_BUS_ADDRESS unset and no
// $XDG_RUNTIME_DIR/bus) the keyring is not tried at all: asking for it would make the D-Bus library
// start a bus of its own with dbus-launch, left running after we quit. Secret values never reach
// the log. Its methods are safe from any goroutine; reads may block up to KeyringTimeout.
type Secrets struct {
	// Dir is the fallback directory (e.g. the state directory's "secrets").
	Dir string
	Log *slog.Logger

	backend    Backend
	sessionBus func() bool
	timeout    time.Duration

	mu       sync.Mutex
	warned   bool
	inflight map[string]chan getResult // keyring reads still running (one per key)
}

type getResult struct {
	v   string
	err error
}

// NewSecrets returns a store on the OS keyring that falls back to dir.
func NewSecrets(dir string, log *slog.Logger) *Secrets {
	return NewSecretsWith(dir, log, osKeyring{})
}

// NewSecretsWith is NewSecrets on another keyring backend.
func NewSecretsWith(dir string, log *slog.Logger, b Backend) *Secrets {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Secrets{Dir: dir, Log: log, backend: b, sessionBus: sessionBusAvailable, timeout: KeyringTimeout,
		inflight: map[string]chan getResult{}}
}

// Password returns the password of account id. Its error wraps ErrNoPassword,
// ErrKeyringUnreachable or ErrKeyringLocked.
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

// DTLSCertificate returns the phone's DTLS-SRTP certificate and private key (PEM). Its error
// wraps ErrNoPassword when there is none yet.
func (s *Secrets) DTLSCertificate() (string, error) { return s.get("dtls:certificate") }

// SetDTLSCertificate stores the phone's DTLS-SRTP certificate and private key (PEM).
func (s *Secrets) SetDTLSCertificate(pem string) error { return s.set("dtls:certificate", pem) }

func (s *Secrets) get(key string) (string, error) {
	if !s.sessionBus() {
		s.warnNoBus()
		return s.readFile(key, ErrNoPassword)
	}
	v, err := s.keyringGet(key)
	if err == nil {
		return v, nil
	}
	if errors.Is(err, keyring.ErrNotFound) {
		return s.readFile(key, ErrNoPassword)
	}
	kerr := classifyKeyringError(err, s.timeout)
	// A secret stored while there was no keyring is in the file.
	return s.readFile(key, kerr)
}

// keyringGet reads key from the backend, giving up after s.timeout. A read that times out keeps
// running (a D-Bus call cannot be cancelled); the next get of the same key waits for it instead
// of starting another.
func (s *Secrets) keyringGet(key string) (string, error) {
	s.mu.Lock()
	c, ok := s.inflight[key]
	if !ok {
		c = make(chan getResult, 1)
		s.inflight[key] = c
		go func() { // ends when the keyring answers (an unlock prompt may take the user's time)
			v, err := s.backend.Get(keyringService, key)
			s.mu.Lock()
			delete(s.inflight, key)
			s.mu.Unlock()
			c <- getResult{v, err}
		}()
	}
	s.mu.Unlock()
	select {
	case r := <-c:
		return r.v, r.err
	case <-time.After(s.timeout):
		return "", errTimedOut
	}
}

var errTimedOut = errors.New("timed out")

// classifyKeyringError tells an unreachable keyring from a locked one.
func classifyKeyringError(err error, timeout time.Duration) error {
	if errors.Is(err, errTimedOut) {
		return fmt.Errorf("%w (no answer within %s: waiting to be unlocked?)", ErrKeyringLocked, timeout)
	}
	var de dbus.Error
	if errors.As(err, &de) {
		switch {
		case strings.HasSuffix(de.Name, ".IsLocked"):
			return fmt.Errorf("%w (%s)", ErrKeyringLocked, de.Name)
		default:
			return fmt.Errorf("%w (%s: %v)", ErrKeyringUnreachable, de.Name, de.Error())
		}
	}
	if strings.Contains(err.Error(), "failed to unlock") || strings.Contains(strings.ToLower(err.Error()), "locked") {
		return fmt.Errorf("%w (%v)", ErrKeyringLocked, err)
	}
	return fmt.Errorf("%w (%v)", ErrKeyringUnreachable, err)
}

// readFile reads the fallback file of key; a missing file gives missing.
// A file another user owns, or others may read or write, is refused (checkSecretFile).
func (s *Secrets) readFile(key string, missing error) (string, error) {
	f, err := os.Open(s.file(key))
	if errors.Is(err, os.ErrNotExist) {
		return "", missing
	}
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", s.file(key), err)
	}
	defer f.Close()
	if err := checkSecretFile(f); err != nil {
		return "", err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", s.file(key), err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

func (s *Secrets) set(key, value string) error {
	if !s.sessionBus() {
		s.warnNoBus()
		return s.writeFile(key, value)
	}
	err := s.backend.Set(keyringService, key, value)
	if err == nil {
		_ = os.Remove(s.file(key)) // a stale fallback copy must not shadow nor outlive it
		return nil
	}
	s.warn(classifyKeyringError(err, s.timeout).Error())
	return s.writeFile(key, value)
}

func (s *Secrets) writeFile(key, value string) error {
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

// warnNoBus says once that there is no session bus.
func (s *Secrets) warnNoBus() {
	s.warn("no session bus (DBUS_SESSION_BUS_ADDRESS unset): not starting one")
}

func (s *Secrets) warn(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warned {
		return
	}
	s.warned = true
	s.Log.Warn("no OS keyring available: keeping secrets in a private 0600 file instead", "dir", s.Dir, "reason", reason)
}

// file maps a key ("password:work") to a file name that is safe on every system.
func (s *Secrets) file(key string) string {
	r := strings.NewReplacer(":", "-", "/", "_", "\\", "_")
	return filepath.Join(s.Dir, r.Replace(key))
}
