package account

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/kamailio"
)

// outage is how long the registrar stays down in the restart tests: the outage the issue
// reported (Kamailio killed, back after 10 s, its location table lost).
const outage = 10 * time.Second

// TestKamailioRestart kills Kamailio while registered, over UDP, TCP and TLS, and starts it again
// 10 s later with an empty location table. During the outage the account must say
// "registering" with a reason naming the registrar; within 5 s of Kamailio's return our binding
// must be in Kamailio's own location table again (kamcmd ul.dump), without any Kick.
func TestKamailioRestart(t *testing.T) {
	for _, tr := range []string{"udp", "tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			k := kamailio.Start(t, kamailio.Options{TLS: tr == "tls"})
			var tlsCfg *tls.Config
			if tr == "tls" {
				tlsCfg = NewTrust(strings.ToUpper(k.Fingerprint)).Config()
			}
			ua := startUA(t, tlsCfg)
			rn := startRegistration(t, ua, aliceOn(k, tr), "alicepw")
			rn.waitState(t, phone.RegRegistered, 5*time.Second)

			k.Kill()
			killed := time.Now()
			var noticed time.Duration
			var info phone.AccountInfo
			for time.Since(killed) < outage {
				if i := rn.reg.Info(); i.State != phone.RegRegistered && noticed == 0 {
					noticed, info = time.Since(killed), i
				}
				time.Sleep(20 * time.Millisecond)
			}
			end := rn.reg.Info()
			if noticed == 0 {
				t.Fatalf("state %s during the whole %s outage, want registering", end.State, outage)
			}
			t.Logf("outage noticed after %s: %s (%s)", noticed.Round(time.Millisecond), info.State, info.Reason)
			if tr == "udp" && !strings.Contains(info.Reason, "port unreachable (ICMP)") {
				// Kamailio's port is closed on loopback: the kernel says so at once.
				t.Errorf("reason %q: the ICMP port unreachable went unnoticed", info.Reason)
			}
			if end.State != phone.RegRegistering {
				t.Errorf("state at the end of the outage: %s (%s), want registering", end.State, end.Reason)
			}
			if hop := k.Addr().String(); tr == "tls" {
				hop = k.TLSAddr().String()
				if !strings.Contains(end.Reason, hop) {
					t.Errorf("reason %q does not name the registrar %s", end.Reason, hop)
				}
			} else if !strings.Contains(end.Reason, hop) {
				t.Errorf("reason %q does not name the registrar %s", end.Reason, hop)
			}

			k.Restart()
			back := time.Now()
			for {
				cs, err := k.Contacts("alice")
				bound := false
				for _, c := range cs {
					bound = bound || strings.Contains(c.Address, rn.reg.Token())
				}
				if err == nil && bound && rn.reg.Info().State == phone.RegRegistered {
					break
				}
				if time.Since(back) > 5*time.Second {
					t.Fatalf("binding not back within 5 s of Kamailio's return: state %+v, contacts %+v (%v)", rn.reg.Info(), cs, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("binding back in Kamailio's location table %s after its return", time.Since(back).Round(time.Millisecond))
		})
	}
}

// TestKamailioGoneForGood kills Kamailio for good while registered over UDP, and puts a silent
// socket on its port that counts what reaches it (a registrar host that drops everything). The
// account must leave "registered" within 15 s with a reason naming the registrar, and send fewer
// than 12 REGISTERs (retransmissions included) in the minute after that.
func TestKamailioGoneForGood(t *testing.T) {
	t.Parallel()
	k := kamailio.Start(t, kamailio.Options{})
	ua := startUA(t, nil)
	rn := startRegistration(t, ua, aliceOn(k, "udp"), "alicepw")
	rn.waitState(t, phone.RegRegistered, 5*time.Second)
	k.Kill()
	sink, err := net.ListenPacket("udp", k.Addr().String())
	if err != nil {
		t.Fatalf("take over Kamailio's port: %v", err)
	}
	defer sink.Close()
	var mu sync.Mutex
	var registers []time.Time
	options := 0
	go func() { // ends when sink is closed
		buf := make([]byte, 65535)
		for {
			n, _, err := sink.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			switch {
			case bytes.HasPrefix(buf[:n], []byte("REGISTER ")):
				registers = append(registers, time.Now())
			case bytes.HasPrefix(buf[:n], []byte("OPTIONS ")):
				options++
			}
			mu.Unlock()
		}
	}()
	killed := time.Now()
	info := rn.reg.Info()
	for info.State == phone.RegRegistered {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("still registered 15 s after the registrar went away")
		}
		time.Sleep(20 * time.Millisecond)
		info = rn.reg.Info()
	}
	noticed := time.Since(killed)
	t.Logf("noticed after %s: %s (%s)", noticed.Round(time.Millisecond), info.State, info.Reason)
	if !strings.Contains(info.Reason, k.Addr().String()) {
		t.Errorf("reason %q does not name the registrar %s", info.Reason, k.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	<-ctx.Done()
	if s := rn.reg.Info().State; s == phone.RegRegistered {
		t.Errorf("registered again with nobody answering")
	}
	mu.Lock()
	n := 0
	for _, at := range registers {
		if at.After(killed.Add(noticed)) && at.Before(killed.Add(noticed+time.Minute)) {
			n++
		}
	}
	t.Logf("in the minute after noticing: %d REGISTER datagrams, %d OPTIONS datagrams; %d REGISTERs in all", n, options, len(registers))
	mu.Unlock()
	if n >= 12 {
		t.Errorf("REGISTERs in the minute after the registrar went away: %d, want < 12", n)
	}
}
