package account

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"trayphone/internal/config"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/kamailio"
	"trayphone/internal/sipua"
)

func testLog() *slog.Logger {
	if os.Getenv("TRAYPHONE_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startUA(t *testing.T, tlsCfg *tls.Config) *sipua.UA {
	t.Helper()
	ua, err := sipua.New(sipua.Config{Listen: "127.0.0.1:0", User: "alice", TLS: tlsCfg, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return ua
}

// running is a registration served by the test.
type running struct {
	reg    *Registration
	states chan phone.AccountInfo
	cancel context.CancelFunc
	done   chan struct{}
}

func startRegistration(t *testing.T, ua *sipua.UA, acct config.Account, password string) *running {
	t.Helper()
	spec, err := FromConfig(acct)
	if err != nil {
		t.Fatal(err)
	}
	rn := &running{states: make(chan phone.AccountInfo, 100), done: make(chan struct{})}
	rn.reg = NewRegistration(spec, ua, func() (string, error) { return password, nil },
		WithLogger(testLog()), WithOnChange(func(i phone.AccountInfo) {
			select {
			case rn.states <- i:
			default:
			}
		}))
	ctx, cancel := context.WithCancel(context.Background())
	rn.cancel = cancel
	go func() { _ = rn.reg.Serve(ctx); close(rn.done) }()
	t.Cleanup(rn.stop)
	return rn
}

func (rn *running) stop() {
	rn.cancel()
	<-rn.done
}

// waitState waits for state and returns the snapshot.
func (rn *running) waitState(t *testing.T, want phone.RegState, timeout time.Duration) phone.AccountInfo {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if i := rn.reg.Info(); i.State == want {
			return i
		}
		select {
		case <-rn.states:
		case <-deadline:
			t.Fatalf("account state: got %v (%s), want %v within %s", rn.reg.Info().State, rn.reg.Info().Reason, want, timeout)
		}
	}
}

func aliceOn(k *kamailio.Kamailio, transport string) config.Account {
	reg := "sip:" + k.Domain()
	if transport == "tls" {
		reg = "sip:" + k.TLSAddr().String()
	}
	return config.Account{ID: "test", AOR: "sip:alice@" + k.Domain(), Registrar: reg, Transport: transport, Expires: 300}
}

func TestKamailioRegisterTransports(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{TLS: true})
	for _, tr := range []string{"udp", "tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			var tlsCfg *tls.Config
			if tr == "tls" {
				// The test certificate is self-signed: trusted by fingerprint only.
				cert, err := FetchCertificate(context.Background(), k.TLSAddr().String(), "")
				if err != nil {
					t.Fatal(err)
				}
				if got := Fingerprint(cert); got != k.Fingerprint {
					t.Fatalf("fetched fingerprint %s, want %s", got, k.Fingerprint)
				}
				tlsCfg = NewTrust(strings.ToUpper(k.Fingerprint)).Config()
			}
			ua := startUA(t, tlsCfg)
			rn := startRegistration(t, ua, aliceOn(k, tr), "alicepw")
			start := time.Now()
			rn.waitState(t, phone.RegRegistered, 5*time.Second)
			t.Logf("%s: registered in %s", tr, time.Since(start).Round(time.Millisecond))
			cs, err := k.Contacts("alice")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, c := range cs {
				if strings.Contains(c.Address, rn.reg.Token()) {
					found = true
					if c.Expires <= 0 || c.Expires > 300 {
						t.Errorf("binding expires in %d s, want 1..300", c.Expires)
					}
				}
			}
			if !found {
				t.Fatalf("location table has no binding with our token %s: %+v", rn.reg.Token(), cs)
			}
			rn.stop()
			cs, _ = k.Contacts("alice")
			for _, c := range cs {
				if strings.Contains(c.Address, rn.reg.Token()) {
					t.Fatalf("binding still in the location table after un-REGISTER: %+v", c)
				}
			}
		})
	}
}

func TestKamailioWrongPassword(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	ua := startUA(t, nil)
	before := k.Requests("REGISTER")
	rn := startRegistration(t, ua, aliceOn(k, "udp"), "not-the-password")
	info := rn.waitState(t, phone.RegFailed, 5*time.Second)
	want := "registrar rejected the password for alice@" + k.Domain() + " (401)"
	if info.Reason != want {
		t.Errorf("reason: got %q, want %q", info.Reason, want)
	}
	time.Sleep(1500 * time.Millisecond) // would a retry loop hammer the registrar?
	if n := k.Requests("REGISTER") - before; n != 2 {
		t.Errorf("REGISTERs sent: got %d, want 2 (one challenge, one answer, no retry)", n)
	}
	rn.stop() // nothing was registered: nothing to remove
	if n := k.Requests("REGISTER") - before; n != 2 {
		t.Errorf("REGISTERs after quitting: got %d, want still 2", n)
	}
}

// TestKamailioTLSUntrusted registers over TLS without trusting the self-signed certificate: the
// account fails with a reason that says how to trust it, and no REGISTER gets through.
func TestKamailioTLSUntrusted(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{TLS: true})
	ua := startUA(t, NewTrust().Config())
	rn := startRegistration(t, ua, aliceOn(k, "tls"), "alicepw")
	info := rn.waitState(t, phone.RegFailed, 10*time.Second)
	if !strings.Contains(info.Reason, "not trusted") || !strings.Contains(info.Reason, k.Fingerprint) {
		t.Errorf("reason %q should say the certificate is not trusted and show its fingerprint", info.Reason)
	}
	if n := k.Requests("REGISTER"); n != 0 {
		t.Errorf("REGISTERs reached Kamailio over an untrusted connection: %d", n)
	}
}

// TestKamailioRestartTCP kills the registrar while registered over TCP: the closed connection is
// noticed without any Kick, and the account is registered again within 5 s of Kamailio coming back.
func TestKamailioRestartTCP(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	ua := startUA(t, nil)
	rn := startRegistration(t, ua, aliceOn(k, "tcp"), "alicepw")
	rn.waitState(t, phone.RegRegistered, 5*time.Second)
	k.Kill()
	time.Sleep(time.Second)
	k.Restart()
	back := time.Now()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs, err := k.Contacts("alice")
		if err == nil && len(cs) == 1 && rn.reg.Info().State == phone.RegRegistered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not registered again within 5 s of the restart: %+v, contacts %+v", rn.reg.Info(), cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("registered again %s after Kamailio came back", time.Since(back).Round(time.Millisecond))
}

// TestKamailioTwoAccounts registers two accounts at once (UDP and TCP), each with its own state,
// and removes both bindings on shutdown.
func TestKamailioTwoAccounts(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	ua := startUA(t, nil)
	var specs []Spec
	for _, c := range []config.Account{
		{ID: "a", AOR: "sip:alice@" + k.Domain(), Transport: "udp"},
		{ID: "c", AOR: "sip:carol@" + k.Domain(), Transport: "tcp"},
	} {
		s, err := FromConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	set := NewSet(specs, ua, func(id string) (string, error) {
		return map[string]string{"a": "alicepw", "c": "carolpw"}[id], nil
	}, WithLogger(testLog()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = set.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := set.Snapshots()
		if s[0].State == phone.RegRegistered && s[1].State == phone.RegRegistered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accounts: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Steady state: no REGISTER for a few flow checks (the TCP connection stays open).
	n := k.Requests("REGISTER")
	time.Sleep(FlowCheckInterval*2 + 500*time.Millisecond)
	if m := k.Requests("REGISTER"); m != n {
		t.Errorf("REGISTERs while nothing changed: %d more (%d to register both)", m-n, n)
	}
	t.Logf("%d REGISTERs to register both accounts", n)
	for _, u := range []string{"alice", "carol"} {
		if cs, err := k.Contacts(u); err != nil || len(cs) != 1 {
			t.Errorf("%s bindings: %+v, %v", u, cs, err)
		}
	}
	cancel()
	<-done
	if cs, err := k.Contacts(""); err != nil || len(cs) != 0 {
		t.Errorf("bindings after shutdown: %+v, %v", cs, err)
	}
	for _, s := range set.Snapshots() {
		if s.State != phone.RegUnregistered {
			t.Errorf("%s after shutdown: %s", s.ID, s.State)
		}
	}
}
