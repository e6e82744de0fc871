package account

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/kamailio"
	"trayphone/internal/testenv"
)

// secretService runs a real Secret Service (gnome-keyring-daemon) on a private session bus that
// cannot start one by itself (no activatable services), as at login before the keyring is up.
type secretService struct {
	t    *testing.T
	bin  string
	conn *dbus.Conn
	cmd  *exec.Cmd
	done chan struct{}
}

// startBusWithoutServices starts a session dbus-daemon with no service directory and points this
// process at it (DBUS_SESSION_BUS_ADDRESS, HOME and XDG_RUNTIME_DIR for gnome-keyring's files).
func startBusWithoutServices(t *testing.T) *secretService {
	t.Helper()
	daemon := testenv.RequireProgram(t, "dbus-daemon")
	gk := testenv.RequireProgram(t, "gnome-keyring-daemon")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s/bus</listen>
  <servicedir>%s/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "bus.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+filepath.Join(dir, "bus.conf"), "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	runtime := filepath.Join(dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &secretService{t: t, bin: gk, conn: conn}
	t.Cleanup(s.stop)
	return s
}

// start runs gnome-keyring-daemon with its login keyring unlocked and waits for it on the bus.
func (s *secretService) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--foreground", "--components=secrets", "--unlock")
	cmd.Stdin = strings.NewReader("keyring-test-pw")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done) // ends with the process
	s.waitOwner(true)
}

func (s *secretService) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
	s.waitOwner(false)
}

func (s *secretService) waitOwner(want bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var has bool
		err := s.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&has)
		if err == nil && has == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("org.freedesktop.secrets owned: %v (%v), want %v", has, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKamailioKeyringFailsOnceThenWorks stores alice's password in a real Secret Service, stops
// it, and starts the registration: the keyring is not reachable, which the account must say (not
// "no password") while sending no REGISTER, and try again by itself. Once the Secret Service is
// back, the account registers at Kamailio without any Kick.
func TestKamailioKeyringFailsOnceThenWorks(t *testing.T) {
	ss := startBusWithoutServices(t)
	secrets := NewSecrets(t.TempDir(), testLog())
	ss.start()
	if err := secrets.SetPassword("test", "alicepw"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(secrets.Dir); len(entries) != 0 {
		t.Fatalf("the password went to a file, not the keyring: %v", entries)
	}
	ss.stop()

	k := kamailio.Start(t, kamailio.Options{})
	ua := startUA(t, nil)
	spec, err := FromConfig(aliceOn(k, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistration(spec, ua, func() (string, error) { return secrets.Password("test") }, WithLogger(testLog()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = reg.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(reg.Info().Reason, "keyring not reachable") {
		if time.Now().After(deadline) {
			t.Fatalf("with the Secret Service stopped: %+v, want a reason saying the keyring is not reachable", reg.Info())
		}
		time.Sleep(20 * time.Millisecond)
	}
	info := reg.Info()
	t.Logf("keyring down: %s (%s)", info.State, info.Reason)
	if info.State == phone.RegFailed || strings.Contains(info.Reason, "no password") {
		t.Errorf("state %s (%s): an unreachable keyring is not a missing password", info.State, info.Reason)
	}
	if n := k.Requests("REGISTER"); n != 0 {
		t.Errorf("REGISTERs without a password: %d", n)
	}
	if _, err := reg.Outbound(); err == nil || !strings.Contains(err.Error(), "keyring not reachable") {
		t.Errorf("Outbound while the keyring is down: %v, want an error saying the keyring is not reachable", err)
	}

	ss.start()
	back := time.Now()
	deadline = time.Now().Add(10 * time.Second)
	for {
		cs, _ := k.Contacts("alice")
		if len(cs) == 1 && reg.Info().State == phone.RegRegistered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not registered within 10 s of the keyring's return: %+v, contacts %+v", reg.Info(), cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("registered %s after the Secret Service came back", time.Since(back).Round(time.Millisecond))
	if o, err := reg.Outbound(); err != nil || o.Password != "alicepw" {
		t.Errorf("Outbound after the keyring came back: %v", err)
	}
}

// TestSecretsKeyringStates reads a password from a real Secret Service in its three states: running
// and unlocked (the password), running with the login keyring locked (ErrKeyringLocked, within
// KeyringTimeout: an unlock prompt must not wedge the caller), and gone (ErrKeyringUnreachable);
// and an absent password (ErrNoPassword). The three errors are told apart.
func TestSecretsKeyringStates(t *testing.T) {
	ss := startBusWithoutServices(t)
	secrets := NewSecrets(t.TempDir(), testLog())
	ss.start()
	if err := secrets.SetPassword("work", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if pw, err := secrets.Password("work"); err != nil || pw != "hunter2" {
		t.Fatalf("unlocked: %q, %v", pw, err)
	}
	if _, err := secrets.Password("home"); !errors.Is(err, ErrNoPassword) {
		t.Errorf("absent password: %v, want ErrNoPassword", err)
	}
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	svc := ss.conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets")
	if err := svc.Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"}).Store(&locked, &prompt); err != nil {
		t.Fatalf("lock the login keyring: %v", err)
	}
	start := time.Now()
	_, err := secrets.Password("work")
	took := time.Since(start)
	t.Logf("locked: %v after %s", err, took.Round(time.Millisecond))
	if !errors.Is(err, ErrKeyringLocked) || errors.Is(err, ErrNoPassword) || errors.Is(err, ErrKeyringUnreachable) {
		t.Errorf("locked keyring: %v, want ErrKeyringLocked", err)
	}
	if took > KeyringTimeout+time.Second {
		t.Errorf("reading a locked keyring took %s, want at most %s", took, KeyringTimeout)
	}
	ss.stop()
	if _, err := secrets.Password("work"); !errors.Is(err, ErrKeyringUnreachable) {
		t.Errorf("no Secret Service: %v, want ErrKeyringUnreachable", err)
	}
}
