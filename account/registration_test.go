package account

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"trayphone/internal/clock"
	"trayphone/internal/config"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// fakeUA answers REGISTERs with a scripted registrar and records what was sent. It is not a SIP
// peer: the real-peer tests use Kamailio; this one drives the state machine through corner cases
// Kamailio will not produce on demand (423, stale nonces, NAT rewrites) with a fake clock.
type fakeUA struct {
	mu     sync.Mutex
	reqs   []*sip.Request // REGISTERs
	pings  int
	pinged netip.AddrPort // where the last keepalive went
	answer func(n int, req *sip.Request) (*sip.Response, error)
	// options are the OPTIONS keepalives sent; optionsErr, if set, is what they get instead
	// of a 200.
	options    []*sip.Request
	optionsErr error
}

func (f *fakeUA) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	if req.Method == sip.OPTIONS {
		f.mu.Lock()
		f.options = append(f.options, req.Clone())
		err := f.optionsErr
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return sip.NewResponseFromRequest(req, 200, "OK", nil), nil
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req.Clone())
	n := len(f.reqs)
	answer := f.answer
	f.mu.Unlock()
	return answer(n, req)
}

func (f *fakeUA) Ping(_ string, dst netip.AddrPort) error {
	f.mu.Lock()
	f.pings++
	f.pinged = dst
	f.mu.Unlock()
	return nil
}

func (f *fakeUA) ContactFor(user string, dst netip.Addr, transport string, params ...string) sip.Uri {
	c := sip.Uri{Scheme: "sip", User: user, Host: "192.168.1.10", Port: 5080, UriParams: sip.NewParams()}
	for i := 0; i+1 < len(params); i += 2 {
		c.UriParams.Add(params[i], params[i+1])
	}
	return c
}

func (f *fakeUA) optionsSent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.options)
}

func (f *fakeUA) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeUA) req(i int) *sip.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[i]
}

const testRealm, testPW = "example.org", "s3cret"

// challenge answers 401 with an MD5 (and optionally SHA-256) challenge.
func challenge(req *sip.Request, nonce string, stale bool, sha bool) *sip.Response {
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	st := ""
	if stale {
		st = ", stale=true"
	}
	if sha {
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", fmt.Sprintf(`Digest realm="%s", nonce="%s", qop="auth", algorithm=SHA-256%s`, testRealm, nonce, st)))
	}
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", fmt.Sprintf(`Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5%s`, testRealm, nonce, st)))
	return res
}

// ok answers 200 granting expires seconds to every Contact of req.
func ok(req *sip.Request, expires int) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, h := range req.GetHeaders("Contact") {
		c := h.(*sip.ContactHeader).Clone()
		c.Params = sip.NewParams()
		c.Params.Add("expires", fmt.Sprint(expires))
		res.AppendHeader(c)
	}
	return res
}

func authOf(req *sip.Request) *digest.Credentials {
	h := req.GetHeader("Authorization")
	if h == nil {
		return nil
	}
	c, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return nil
	}
	return c
}

type harness struct {
	t   *testing.T
	clk *clock.Fake
	ua  *fakeUA
	reg *Registration
	pw  string
	mu  sync.Mutex
	ctx context.Context
	end context.CancelFunc
	out chan struct{}
}

func newHarness(t *testing.T, answer func(n int, req *sip.Request) (*sip.Response, error)) *harness {
	return newHarnessAt(t, "sip:10.0.0.5", answer)
}

// newHarnessAt is newHarness with the account's registrar at registrar.
func newHarnessAt(t *testing.T, registrar string, answer func(n int, req *sip.Request) (*sip.Response, error)) *harness {
	spec, err := FromConfig(config.Account{ID: "work", AOR: "sip:alice@example.org", Registrar: registrar, Expires: 3600})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), ua: &fakeUA{answer: answer}, pw: testPW, out: make(chan struct{})}
	h.reg = NewRegistration(spec, h.ua, func() (string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.pw == "" {
			return "", ErrNoPassword
		}
		return h.pw, nil
	}, WithClock(h.clk), WithJitter(func() float64 { return 0.5 }))
	h.ctx, h.end = context.WithCancel(context.Background())
	go func() { _ = h.reg.Serve(h.ctx); close(h.out) }()
	h.until("Serve to arm its timers", func() bool { return h.clk.Timers() >= 2 })
	h.clk.Advance(0)
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.end()
	<-h.out
}

// until waits (in real time, briefly) for cond.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; state %+v, %d requests", what, h.reg.Info(), h.ua.count())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) state(want phone.RegState) {
	h.t.Helper()
	h.until("state "+want.String(), func() bool { return h.reg.Info().State == want })
}

// registrar is a scripted registrar: challenge fresh requests, accept authorized ones.
func registrar(grant int) func(n int, req *sip.Request) (*sip.Response, error) {
	return func(n int, req *sip.Request) (*sip.Response, error) {
		if authOf(req) == nil {
			return challenge(req, fmt.Sprintf("nonce%d", n), false, false), nil
		}
		return ok(req, grant), nil
	}
}

func TestServeRegistersAndRefreshes(t *testing.T) {
	h := newHarness(t, registrar(120))
	h.state(phone.RegRegistered)
	if n := h.ua.count(); n != 2 {
		t.Fatalf("REGISTERs for the first registration: got %d, want 2 (challenge + answer)", n)
	}
	first := h.ua.req(0)
	if got := first.Recipient.String(); got != "sip:10.0.0.5" {
		t.Errorf("Request-URI %s, want sip:10.0.0.5", got)
	}
	if c := first.Contact(); c == nil || !c.Address.UriParams.Has(TokenParam) {
		t.Errorf("Contact %v has no registration token", first.Contact())
	}
	if e := first.GetHeader("Expires"); e == nil || e.Value() != "3600" {
		t.Errorf("Expires %v, want 3600", e)
	}
	// The registrar granted 120 s: refresh at 102 s (85 %), not before.
	h.clk.Advance(101 * time.Second)
	time.Sleep(20 * time.Millisecond)
	if n := h.ua.count(); n != 2 {
		t.Fatalf("refreshed early: %d requests after 101 s", n)
	}
	h.clk.Advance(time.Second)
	h.until("the refresh", func() bool { return h.ua.count() == 3 })
	refresh := h.ua.req(2)
	if a := authOf(refresh); a == nil || a.Nc != 2 || a.Nonce != "nonce1" {
		t.Errorf("refresh should reuse the last nonce with nc=2; got %+v", a)
	}
	if a, b := refresh.CallID().Value(), first.CallID().Value(); a != b {
		t.Errorf("refresh Call-ID %s, want the same as the first REGISTER %s", a, b)
	}
	if refresh.CSeq().SeqNo != 3 {
		t.Errorf("refresh CSeq %d, want 3", refresh.CSeq().SeqNo)
	}
	h.state(phone.RegRegistered)
	// Shutdown: un-REGISTER with Expires 0.
	h.stop()
	last := h.ua.req(h.ua.count() - 1)
	if e := last.GetHeader("Expires"); e == nil || e.Value() != "0" {
		t.Errorf("last REGISTER Expires %v, want 0", e)
	}
	if got := h.reg.Info().State; got != phone.RegUnregistered {
		t.Errorf("state after shutdown %s, want unregistered", got)
	}
}

func TestServeStaleNonce(t *testing.T) {
	h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
		a := authOf(req)
		switch {
		case a == nil:
			return challenge(req, "n1", false, false), nil
		case a.Nonce == "n1" && a.Nc >= 2: // the refresh: the nonce went stale meanwhile
			return challenge(req, "n2", true, false), nil
		}
		return ok(req, 3600), nil
	})
	h.state(phone.RegRegistered)
	h.clk.Advance(51 * time.Minute)
	h.until("the refresh with the new nonce", func() bool { return h.ua.count() == 4 })
	h.state(phone.RegRegistered)
	if a := authOf(h.ua.req(3)); a == nil || a.Nonce != "n2" || a.Nc != 1 {
		t.Errorf("after a stale nonce: got %+v, want nonce n2 nc 1", a)
	}
}

func TestServeWrongPasswordDoesNotHammer(t *testing.T) {
	h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
		return challenge(req, fmt.Sprintf("n%d", n), false, false), nil
	})
	h.state(phone.RegFailed)
	want := "registrar rejected the password for alice@example.org (401)"
	if got := h.reg.Info().Reason; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	h.clk.Advance(29 * time.Minute)
	time.Sleep(20 * time.Millisecond)
	if n := h.ua.count(); n != 2 {
		t.Fatalf("REGISTERs in 29 min after a rejected password: %d, want 2", n)
	}
	h.reg.Kick() // "trayphone account password" stored a new one
	h.until("the retry after Kick", func() bool { return h.ua.count() == 4 })
}

func TestServeNoPasswordWaitsForKick(t *testing.T) {
	h := newHarnessNoPW(t)
	h.state(phone.RegUnregistered)
	h.until("the reason", func() bool { return h.reg.Info().Reason == "set the password with trayphone account password work" })
	if n := h.ua.count(); n != 0 {
		t.Errorf("REGISTERs without a password: %d", n)
	}
	h.clk.Advance(24 * time.Hour)
	time.Sleep(20 * time.Millisecond)
	if n := h.ua.count(); n != 0 {
		t.Errorf("REGISTERs without a password after a day: %d", n)
	}
	h.mu.Lock()
	h.pw = testPW
	h.mu.Unlock()
	h.reg.Kick()
	h.state(phone.RegRegistered)
}

func newHarnessNoPW(t *testing.T) *harness {
	h := &harness{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), ua: &fakeUA{answer: registrar(3600)}, out: make(chan struct{})}
	spec, _ := FromConfig(config.Account{ID: "work", AOR: "sip:alice@example.org", Registrar: "sip:10.0.0.5"})
	h.reg = NewRegistration(spec, h.ua, func() (string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.pw == "" {
			return "", ErrNoPassword
		}
		return h.pw, nil
	}, WithClock(h.clk))
	h.ctx, h.end = context.WithCancel(context.Background())
	go func() { _ = h.reg.Serve(h.ctx); close(h.out) }()
	h.until("Serve to arm its timers", func() bool { return h.clk.Timers() >= 2 })
	h.clk.Advance(0)
	t.Cleanup(h.stop)
	return h
}

func TestServeIntervalTooBrief(t *testing.T) {
	h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
		if authOf(req) == nil {
			return challenge(req, "n", false, false), nil
		}
		if req.GetHeader("Expires").Value() != "7200" {
			res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", "7200"))
			return res, nil
		}
		return ok(req, 7200), nil
	})
	h.state(phone.RegRegistered)
	if n := h.ua.count(); n != 3 {
		t.Errorf("REGISTERs: %d, want 3 (401, 423, 200)", n)
	}
}

func TestServeFixesContactFromVia(t *testing.T) {
	h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
		res := ok(req, 3600)
		if authOf(req) == nil {
			res = challenge(req, "n", false, false)
		}
		// The request got sipgo's Via only on the wire; build the one a NAT'ed registrar returns.
		res.RemoveHeader("Via")
		via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "192.168.1.10", Port: 5080, Params: sip.NewParams()}
		via.Params.Add("branch", "z9hG4bK1")
		via.Params.Add("received", "203.0.113.7")
		via.Params.Add("rport", "40123")
		res.AppendHeader(via)
		return res, nil
	})
	h.state(phone.RegRegistered)
	last := h.ua.req(h.ua.count() - 1)
	cs := last.GetHeaders("Contact")
	if len(cs) != 2 {
		t.Fatalf("REGISTER after the NAT rewrite has %d Contacts, want 2 (old with expires=0, new)", len(cs))
	}
	old, nu := cs[0].(*sip.ContactHeader), cs[1].(*sip.ContactHeader)
	if e, _ := old.Params.Get("expires"); old.Address.Host != "192.168.1.10" || e != "0" {
		t.Errorf("old Contact %s, want 192.168.1.10 with expires=0", old.Value())
	}
	if nu.Address.Host != "203.0.113.7" || nu.Address.Port != 40123 {
		t.Errorf("new Contact %s, want 203.0.113.7:40123", nu.Value())
	}
	if o, _ := h.reg.Outbound(); o.Contact.Host != "203.0.113.7" {
		t.Errorf("calls would use Contact %s, want the public address", o.Contact.String())
	}
}

func TestServeBackoffAndKeepalive(t *testing.T) {
	var mu sync.Mutex
	down := true
	h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return nil, errors.New("transaction timeout")
		}
		return registrar(3600)(n, req)
	})
	h.state(phone.RegRegistering)
	h.until("the reason", func() bool {
		return strings.Contains(h.reg.Info().Reason, "registrar 10.0.0.5:5060 not answering (no answer to REGISTER); registering again as soon as it answers")
	})
	// While it does not answer, OPTIONS probes back off (jitter 0.5: 0.75 s, 1.5 s, 2.25 s, 2.25 s)
	// and no REGISTER is sent before DownRegisterEvery.
	h.ua.mu.Lock()
	h.ua.optionsErr = errors.New("transaction timeout")
	h.ua.mu.Unlock()
	for i, d := range []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 2250 * time.Millisecond, 2250 * time.Millisecond} {
		h.until("the probe timer", func() bool { return h.clk.Timers() >= 2 })
		h.clk.Advance(d)
		h.until(fmt.Sprintf("probe %d", i+1), func() bool { return h.ua.optionsSent() == i+1 })
	}
	if n := h.ua.count(); n != 1 {
		t.Errorf("REGISTERs while the registrar is down: %d, want 1", n)
	}
	// It answers again: the next probe's answer triggers the REGISTER.
	mu.Lock()
	down = false
	mu.Unlock()
	h.ua.mu.Lock()
	h.ua.optionsErr = nil
	h.ua.mu.Unlock()
	h.until("the probe timer", func() bool { return h.clk.Timers() >= 2 })
	h.clk.Advance(2250 * time.Millisecond)
	h.state(phone.RegRegistered)
	// Registered: an OPTIONS keepalive every DefaultKeepalive.
	for i := 1; i <= 3; i++ {
		n := h.ua.optionsSent()
		h.until("the keepalive timer", func() bool { return h.clk.Timers() >= 2 })
		h.clk.Advance(DefaultKeepalive)
		h.until(fmt.Sprintf("keepalive %d", i), func() bool { return h.ua.optionsSent() == n+1 })
	}
	if o := h.ua.options[len(h.ua.options)-1]; o.Recipient.String() != "sip:10.0.0.5" {
		t.Errorf("keepalive Request-URI %s, want sip:10.0.0.5", o.Recipient.String())
	}
	// The registrar stops answering OPTIONS: registering, with a reason naming it.
	h.ua.mu.Lock()
	h.ua.optionsErr = sip.ErrTransactionTimeout
	h.ua.mu.Unlock()
	h.until("the keepalive timer", func() bool { return h.clk.Timers() >= 2 })
	h.clk.Advance(DefaultKeepalive)
	h.state(phone.RegRegistering)
	if r, want := h.reg.Info().Reason, "registrar 10.0.0.5:5060 stopped answering (no answer to OPTIONS within 3s); registering again as soon as it answers"; r != want {
		t.Errorf("reason %q, want %q", r, want)
	}
}

// TestServeProbeAnsweredButRegisterNot: a next hop that answers OPTIONS but not REGISTER gets no
// REGISTER per probe: after one, only the DownRegisterEvery timer sends the next.
func TestServeProbeAnsweredButRegisterNot(t *testing.T) {
	h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
		return nil, errors.New("transaction timeout")
	})
	h.state(phone.RegRegistering)
	for i := 0; i < 20; i++ {
		h.until("the probe timer", func() bool { return h.clk.Timers() >= 2 })
		h.clk.Advance(ProbeMax)
		time.Sleep(2 * time.Millisecond)
	}
	if n := h.ua.count(); n != 2 {
		t.Errorf("REGISTERs in %s with OPTIONS answered and REGISTER not: %d, want 2 (the first, one after a probe)", 20*ProbeMax, n)
	}
}

// TestServeShortGrantFloored: a registrar granting "Expires: 1" gets a refresh every MinRefresh,
// not every half second.
func TestServeShortGrantFloored(t *testing.T) {
	h := newHarness(t, registrar(1))
	h.state(phone.RegRegistered)
	n := h.ua.count()
	h.clk.Advance(MinRefresh - time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if m := h.ua.count(); m != n {
		t.Fatalf("REGISTERs within %s of a 1 s grant: %d, want none", MinRefresh, m-n)
	}
	h.clk.Advance(time.Millisecond)
	h.until("the refresh", func() bool { return h.ua.count() == n+1 })
}

func TestAuthorizeSHA256(t *testing.T) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "example.org"})
	res := challenge(req, "abc", false, true)
	chal, err := sipua.ChallengeOf(res)
	if err != nil {
		t.Fatal(err)
	}
	if chal.Algorithm != "SHA-256" {
		t.Fatalf("picked %s, want SHA-256 when offered with MD5", chal.Algorithm)
	}
	if err := sipua.Authorize(req, chal, "alice", "pw", 1); err != nil {
		t.Fatal(err)
	}
	a := authOf(req)
	h := func(s string) string { b := sha256.Sum256([]byte(s)); return hex.EncodeToString(b[:]) }
	want := h(h("alice:example.org:pw") + ":abc:00000001:" + a.Cnonce + ":auth:" + h("REGISTER:sip:example.org"))
	if a.Response != want || a.Algorithm != "SHA-256" || a.QOP != "auth" || a.URI != "sip:example.org" {
		t.Errorf("credentials %+v, want SHA-256 response %s", a, want)
	}
}

// TestKeepaliveNamedRegistrar: a registrar given by host name is kept alive at the address its
// answers came from, since the keepalive cannot wait for DNS.
func TestKeepaliveNamedRegistrar(t *testing.T) {
	h := newHarnessAt(t, "sip:registrar.example.org", func(n int, req *sip.Request) (*sip.Response, error) {
		res, err := registrar(3600)(n, req)
		if res != nil {
			res.SetSource("192.0.2.44:5060")
		}
		return res, err
	})
	h.state(phone.RegRegistered)
	h.until("the refresh and keepalive timers", func() bool { return h.clk.Timers() >= 2 })
	h.clk.Advance(DefaultKeepalive)
	h.until("a keepalive", func() bool { return h.ua.optionsSent() == 1 })
	h.ua.mu.Lock()
	defer h.ua.mu.Unlock()
	o := h.ua.options[0]
	if got, want := o.Destination(), "192.0.2.44:5060"; got != want {
		t.Errorf("keepalive went to %v, want %v (where the registrar answered from)", got, want)
	}
	if got := o.Recipient.String(); got != "sip:registrar.example.org" {
		t.Errorf("keepalive Request-URI %s, want sip:registrar.example.org", got)
	}
}

// TestUnregisterErrorNamesWhatFailed: an un-REGISTER that gets no answer at quit is logged with the
// registrar and what failed, never with an empty error.
func TestUnregisterErrorNamesWhatFailed(t *testing.T) {
	var mu sync.Mutex
	gone := false
	ua := &fakeUA{answer: func(n int, req *sip.Request) (*sip.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return nil, sip.ErrTransactionTimeout
		}
		return registrar(3600)(n, req)
	}}
	spec, err := FromConfig(config.Account{ID: "work", AOR: "sip:alice@example.org", Registrar: "sip:10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	reg := NewRegistration(spec, ua, func() (string, error) { return testPW, nil },
		WithLogger(slog.New(slog.NewTextHandler(&lockedWriter{mu: &logMu, w: &logs}, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = reg.Serve(ctx); close(done) }()
	deadline := time.Now().Add(3 * time.Second)
	for reg.Info().State != phone.RegRegistered {
		if time.Now().After(deadline) {
			t.Fatalf("not registered: %+v", reg.Info())
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	gone = true
	mu.Unlock()
	cancel()
	<-done
	logMu.Lock()
	defer logMu.Unlock()
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "could not unregister") {
			line = l
		}
	}
	if !strings.Contains(line, "registrar=10.0.0.5:5060") || !strings.Contains(line, `error="no answer within 2s"`) {
		t.Errorf("un-REGISTER failure logged as %q, want the registrar and what failed", line)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestOutboundNeverWaitsForTheKeyring: while the keyring hangs (an unlock prompt nobody answers),
// Outbound — what the call manager asks for every INVITE, BYE and hold — answers at once with the
// reason; once the password is read it is kept, and the keyring is not asked again per call.
func TestOutboundNeverWaitsForTheKeyring(t *testing.T) {
	release := make(chan struct{})
	var reads sync.WaitGroup
	var mu sync.Mutex
	n := 0
	spec, err := FromConfig(config.Account{ID: "work", AOR: "sip:alice@example.org", Registrar: "sip:10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	reads.Add(1)
	reg := NewRegistration(spec, &fakeUA{answer: registrar(3600)}, func() (string, error) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			defer reads.Done()
			<-release
		}
		return testPW, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = reg.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	start := time.Now()
	_, err = reg.Outbound()
	if took := time.Since(start); took > 100*time.Millisecond || err == nil {
		t.Fatalf("Outbound with the keyring hanging: %v after %s, want an error at once", err, took)
	}
	close(release)
	reads.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for reg.Info().State != phone.RegRegistered {
		if time.Now().After(deadline) {
			t.Fatalf("not registered after the keyring answered: %+v", reg.Info())
		}
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		if o, err := reg.Outbound(); err != nil || o.Password != testPW {
			t.Fatalf("Outbound: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("keyring reads: %d, want 1 (the password is kept in memory)", n)
	}
}
