package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// TokenParam is the Contact URI parameter that carries the per-registration token. The registrar
// copies our Contact into the Request-URI of the INVITEs it forwards, so an INVITE carrying the
// token came through the registrar (RFC 3261 §10.3, "ghost call" protection).
const TokenParam = "tpreg"

// Timeouts of one attempt.
const (
	// attemptTimeout bounds one REGISTER transaction (timer F, 64*T1). Retransmissions (every ≤ 4 s
	// on UDP) reach a registrar that comes back meanwhile.
	attemptTimeout = 32 * time.Second
	// UnregisterTimeout bounds the un-REGISTER on shutdown.
	UnregisterTimeout = 2 * time.Second
)

// UA is what a registration needs from the SIP user agent (*sipua.UA has it).
type UA interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	Ping(transport string, dst netip.AddrPort) error
	ContactFor(user string, dst netip.Addr, transport string, params ...string) sip.Uri
}

// Registration keeps one account registered. Serve runs its state machine on one goroutine;
// Kick, Info and Outbound may be called from any goroutine.
type Registration struct {
	spec     Spec
	ua       UA
	password func() (string, error)
	clk      clock.Clock
	log      *slog.Logger
	onChange func(phone.AccountInfo)
	jitter   func() float64
	kickc    chan struct{}
	token    string
	callID   string
	fromTag  string

	// Owned by the Serve goroutine.
	m       machine
	cseq    uint32
	chal    *sipua.Challenge // the last challenge, reused for the next refresh
	realm   string           // the realm the registrar challenged with (calls answer only it and ours)
	nc      int              // nonce count used with chal
	contact sip.Uri          // the Contact we register
	fixed   *netip.AddrPort  // our address as the registrar sees it (rport/received), UDP only
	hop     netip.AddrPort   // where the last accepted REGISTER's answer came from (a named registrar's IP)
	old     *sip.Uri         // a Contact to remove in the next REGISTER
	bound   bool             // the registrar accepted a binding of ours that we have not removed

	mu   sync.Mutex
	info phone.AccountInfo
	out  sipua.Outbound // Contact/LocalIP of the current registration
}

// Option changes a Registration for tests.
type Option func(*Registration)

// WithClock sets the clock (default: the real one).
func WithClock(c clock.Clock) Option { return func(r *Registration) { r.clk = c } }

// WithJitter sets the jitter source (default: math/rand/v2), a draw in [0,1).
func WithJitter(f func() float64) Option { return func(r *Registration) { r.jitter = f } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(r *Registration) { r.log = l } }

// WithOnChange sets a function called (from the Serve goroutine) with every new snapshot.
func WithOnChange(f func(phone.AccountInfo)) Option { return func(r *Registration) { r.onChange = f } }

// NewRegistration prepares the registration of spec through ua; password is asked for at every
// attempt (so a newly stored one is used after Kick). Nothing is sent until Serve.
func NewRegistration(spec Spec, ua UA, password func() (string, error), opts ...Option) *Registration {
	r := &Registration{
		spec: spec, ua: ua, password: password,
		clk: clock.Real{}, log: slog.New(slog.DiscardHandler), jitter: mrand.Float64,
		kickc:   make(chan struct{}, 1),
		token:   randHex(8),
		callID:  randHex(12),
		fromTag: randHex(8),
	}
	for _, o := range opts {
		o(r)
	}
	r.log = r.log.With("account", spec.ID, "aor", spec.AOR.String())
	r.m = machine{name: spec.Name(), hop: spec.HopAddr(), state: phone.RegUnregistered, expires: spec.Expires}
	r.contact = r.newContact()
	r.info = phone.AccountInfo{ID: spec.ID, AOR: spec.AOR.String(), State: phone.RegUnregistered}
	r.out = r.outbound()
	return r
}

// Spec returns the account's settings.
func (r *Registration) Spec() Spec { return r.spec }

// Token is the per-registration token carried in our Contact.
func (r *Registration) Token() string { return r.token }

// Info returns the latest snapshot.
func (r *Registration) Info() phone.AccountInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

// Kick asks for a registration now (password changed, network changed, machine woke up). It
// never blocks.
func (r *Registration) Kick() {
	select {
	case r.kickc <- struct{}{}:
	default:
	}
}

// Serve keeps the account registered until ctx is done; then it removes the binding
// (un-REGISTER, bounded by UnregisterTimeout) and returns nil.
func (r *Registration) Serve(ctx context.Context) error {
	timer := r.clk.NewTimer(0)
	defer timer.Stop()
	kaEvery := KeepaliveInterval
	if r.spec.Transport != "udp" {
		kaEvery = FlowCheckInterval
	}
	ka := r.clk.NewTimer(kaEvery)
	defer ka.Stop()
	for {
		select {
		case <-ctx.Done():
			r.unregister()
			return nil
		case <-r.kickc:
			r.m.kick()
			r.recomputeContact()
			r.attempt(ctx, timer)
		case <-timer.C():
			r.attempt(ctx, timer)
		case <-ka.C():
			if lost := r.keepalive(); lost {
				r.attempt(ctx, timer)
			}
			ka.Reset(kaEvery)
		}
	}
}

// attempt runs one registration and arms timer for the next one.
func (r *Registration) attempt(ctx context.Context, timer clock.Timer) {
	select { // a kick that arrived meanwhile is served by this attempt
	case <-r.kickc:
	default:
	}
	if r.m.state != phone.RegRegistered {
		r.m.state = phone.RegRegistering
		r.publish()
	}
	var wait time.Duration
	for i := 0; i < 4; i++ { // 423 and Contact fixes retry at once, a few times at most
		o := r.register(ctx, r.m.expires)
		if ctx.Err() != nil {
			return
		}
		wait = r.m.step(o, r.jitter())
		r.log.Debug("registration attempt", "state", r.m.state.String(), "code", o.code, "next", wait)
		if wait != 0 {
			break
		}
	}
	if r.m.state == phone.RegFailed {
		r.log.Warn("registration failed", "reason", r.m.reason)
	} else if r.m.state == phone.RegRegistered {
		r.log.Info("registered", "contact", r.contact.String(), "refresh_in", wait.Round(time.Second))
	}
	timer.Stop()
	if wait >= 0 {
		timer.Reset(wait)
	}
	r.publish() // after arming the timer, so that whoever sees the new state may move the clock
}

// register sends one REGISTER (answering a digest challenge) and classifies the result.
func (r *Registration) register(ctx context.Context, expires time.Duration) outcome {
	pw, err := r.password()
	if err != nil {
		return outcome{kind: outNoPassword}
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	fresh := false // the credentials answer a challenge of this attempt
	req := r.request(expires)
	if r.chal != nil {
		r.nc++
		if err := sipua.Authorize(req, r.chal, r.spec.AuthUser, pw, r.nc); err != nil {
			r.chal = nil
		}
	}
	var res *sip.Response
	for tries := 0; ; tries++ {
		res, err = r.ua.Do(ctx, req)
		if err != nil {
			return r.transportOutcome(ctx, err)
		}
		if (res.StatusCode != 401 && res.StatusCode != 407) || tries >= 3 {
			break
		}
		chal, err := sipua.ChallengeOf(res)
		if err != nil {
			return outcome{kind: outRefused, code: res.StatusCode, phrase: "with an unsupported login method"}
		}
		if fresh && !chal.Stale {
			r.chal = nil
			return outcome{kind: outAuthRejected, code: res.StatusCode}
		}
		r.chal, r.nc, fresh = chal, 1, true
		if chal.Realm != r.realm {
			r.realm = chal.Realm
			r.mu.Lock()
			r.out = r.outbound()
			r.mu.Unlock()
		}
		req = r.request(expires)
		if err := sipua.Authorize(req, chal, r.spec.AuthUser, pw, r.nc); err != nil {
			return outcome{kind: outRefused, code: res.StatusCode, phrase: err.Error()}
		}
	}
	return r.classify(req, res, expires)
}

// classify turns a final response into an outcome and applies what it teaches (rport/received).
func (r *Registration) classify(req *sip.Request, res *sip.Response, expires time.Duration) outcome {
	code := res.StatusCode
	switch {
	case code >= 200 && code < 300:
		r.old = nil
		r.bound = expires != 0
		if ap, err := netip.ParseAddrPort(res.Source()); err == nil {
			r.hop = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		if expires == 0 {
			return outcome{kind: outOK, code: code}
		}
		if r.learnAddress(res) {
			return outcome{kind: outContactChanged, code: code}
		}
		return outcome{kind: outOK, code: code, granted: grantedExpiry(res, r.contact, expires)}
	case code == 423:
		if h := res.GetHeader("Min-Expires"); h != nil {
			if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
				return outcome{kind: outTooBrief, code: code, minExpires: time.Duration(n) * time.Second}
			}
		}
		return outcome{kind: outRefused, code: code, phrase: res.Reason}
	case code == 403:
		return outcome{kind: outAuthRejected, code: code}
	case code == 401 || code == 407:
		return outcome{kind: outAuthRejected, code: code}
	case code == 408 || code >= 500:
		o := outcome{kind: outServerError, code: code, phrase: res.Reason}
		if h := res.GetHeader("Retry-After"); h != nil {
			if n, err := strconv.Atoi(strings.Fields(h.Value() + " ")[0]); err == nil && n > 0 {
				o.retryAfter = time.Duration(n) * time.Second
			}
		}
		return o
	}
	return outcome{kind: outRefused, code: code, phrase: res.Reason}
}

// transportOutcome classifies a failed transaction.
func (r *Registration) transportOutcome(ctx context.Context, err error) outcome {
	var op *net.OpError
	var ue *UntrustedError
	switch {
	case errors.As(err, &ue):
		return outcome{kind: outUntrusted, err: fmt.Sprintf("%v; SHA-256 %s", ue.Err, ue.Fingerprint)}
	case strings.Contains(err.Error(), "certificate is not trusted"):
		return outcome{kind: outUntrusted, err: err.Error()}
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, sip.ErrTransactionTimeout),
		strings.Contains(err.Error(), "timeout"), strings.Contains(err.Error(), "timed out"):
		return outcome{kind: outNoAnswer}
	case errors.As(err, &op):
		return outcome{kind: outUnreachable, err: op.Err.Error()}
	}
	return outcome{kind: outUnreachable, err: err.Error()}
}

// learnAddress applies RFC 3581: when the registrar saw our request come from another address than
// our Contact says (a NAT on UDP; on TCP and TLS the ephemeral port of our connection), register
// that address instead, so that the registrar reaches us on the flow we opened. It reports whether
// the Contact changed.
func (r *Registration) learnAddress(res *sip.Response) bool {
	via := res.Via()
	if via == nil {
		return false
	}
	recv, ok := via.Params.Get("received")
	if !ok {
		recv = r.contact.Host // received is only added when the IP differs (RFC 3581 §4)
	}
	ip, err := netip.ParseAddr(recv)
	if err != nil {
		return false
	}
	ours, _ := netip.ParseAddr(r.contact.Host)
	hop, _ := r.spec.HopIP()
	if !sipua.PlausibleReceived(ip, ours, hop) {
		r.log.Warn("registrar's answer names an implausible address for us: ignored", "received", recv)
		return false
	}
	port := r.contact.Port
	if rp, ok := via.Params.Get("rport"); ok {
		if n, err := strconv.Atoi(rp); err == nil && n > 0 && n < 65536 {
			port = n
		}
	}
	ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
	if cur, err := netip.ParseAddr(r.contact.Host); err == nil && cur == ap.Addr() && r.contact.Port == port {
		return false
	}
	old := r.contact
	r.old = &old
	r.fixed = &ap
	r.contact = r.newContact()
	r.log.Info("registrar sees us at another address: updating our Contact", "contact", r.contact.String())
	r.mu.Lock()
	r.out = r.outbound()
	r.mu.Unlock()
	return true
}

// grantedExpiry reads the expiry the registrar granted our Contact (its expires parameter, else the
// Expires header, else what we asked).
func grantedExpiry(res *sip.Response, ours sip.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		tok, _ := c.Address.UriParams.Get(TokenParam)
		want, _ := ours.UriParams.Get(TokenParam)
		if tok != want {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// request builds the next REGISTER asking for expires (0: remove our binding).
func (r *Registration) request(expires time.Duration) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, r.spec.Registrar)
	req.SetTransport(strings.ToUpper(r.spec.Transport))
	if r.spec.HasProxy {
		req.AppendHeader(&sip.RouteHeader{Address: r.spec.NextHop()})
	}
	from := &sip.FromHeader{DisplayName: r.spec.DisplayName, Address: r.spec.AOR, Params: sip.NewParams()}
	from.Params.Add("tag", r.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: r.spec.AOR, Params: sip.NewParams()})
	callID := sip.CallIDHeader(r.callID)
	req.AppendHeader(&callID)
	r.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	secs := strconv.Itoa(int(expires / time.Second))
	if r.old != nil {
		c := &sip.ContactHeader{Address: *r.old, Params: sip.NewParams()}
		c.Params.Add("expires", "0")
		req.AppendHeader(c)
	}
	c := &sip.ContactHeader{Address: r.contact, Params: sip.NewParams()}
	c.Params.Add("expires", secs)
	req.AppendHeader(c)
	req.AppendHeader(sip.NewHeader("Expires", secs))
	req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	req.SetBody(nil)
	return req
}

// newContact builds our Contact: the user agent's address toward the next hop (or the address the
// registrar reported), the transport, and the registration token.
func (r *Registration) newContact() sip.Uri {
	ip, _ := r.spec.HopIP()
	c := r.ua.ContactFor(r.spec.AOR.User, ip, r.spec.Transport, TokenParam, r.token)
	if r.fixed != nil {
		c.Host, c.Port = r.fixed.Addr().String(), int(r.fixed.Port())
	}
	return c
}

// recomputeContact picks up a new local address after a network change; the old Contact is
// removed in the next REGISTER.
func (r *Registration) recomputeContact() {
	r.fixed = nil // a NAT mapping learnt on the old network means nothing on the new one
	c := r.newContact()
	if c.String() == r.contact.String() {
		return
	}
	old := r.contact
	r.old, r.contact = &old, c
	r.mu.Lock()
	r.out = r.outbound()
	r.mu.Unlock()
}

// unregister removes our binding (Expires: 0), bounded by UnregisterTimeout.
func (r *Registration) unregister() {
	if !r.bound {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), UnregisterTimeout)
	defer cancel()
	o := r.register(ctx, 0)
	if o.kind == outOK {
		r.log.Info("unregistered")
	} else {
		r.log.Warn("could not unregister", "code", o.code, "error", o.err)
	}
	r.m.state, r.m.reason = phone.RegUnregistered, ""
	r.publish()
}

// keepalive pings the next hop while registered: a CRLF on UDP, a check that the connection is
// still open on TCP and TLS. It reports whether the flow is lost (re-register now).
func (r *Registration) keepalive() (lost bool) {
	if r.m.state != phone.RegRegistered {
		return false
	}
	var dst netip.AddrPort
	if ip, ok := r.spec.HopIP(); ok {
		_, p, _ := net.SplitHostPort(r.spec.HopAddr())
		port, _ := strconv.Atoi(p)
		dst = netip.AddrPortFrom(ip, uint16(port))
	} else if r.hop.IsValid() {
		// A registrar given by name: ping the address its answers came from (what DNS gave sipgo).
		dst = r.hop
	} else {
		return false
	}
	err := r.ua.Ping(r.spec.Transport, dst)
	if errors.Is(err, sipua.ErrNoFlow) {
		r.log.Info("connection to the registrar closed: registering again")
		return true
	}
	if err != nil {
		r.log.Debug("keepalive failed", "error", err)
	}
	return false
}

// publish stores and announces the current snapshot.
func (r *Registration) publish() {
	info := phone.AccountInfo{ID: r.spec.ID, AOR: r.spec.AOR.String(), State: r.m.state, Reason: r.m.reason}
	r.mu.Lock()
	changed := info != r.info
	r.info = info
	r.mu.Unlock()
	if changed && r.onChange != nil {
		r.onChange(info)
	}
}

// outbound describes how calls leave through this account (without the password).
func (r *Registration) outbound() sipua.Outbound {
	o := sipua.Outbound{
		Account: r.spec.ID, From: r.spec.AOR, DisplayName: r.spec.DisplayName,
		Contact: r.contact, Domain: r.spec.Domain(), Transport: strings.ToUpper(r.spec.Transport),
		AuthUser: r.spec.AuthUser,
	}
	if ip, err := netip.ParseAddr(r.contact.Host); err == nil {
		o.LocalIP = ip
	}
	hop := r.spec.NextHop()
	o.Route = &hop
	// The realms calls may answer with the account's credentials (sipua.CheckChallenge).
	o.Realms = []string{r.spec.AOR.Host, r.spec.Registrar.Host, r.spec.Proxy.Host}
	if r.realm != "" {
		o.Realms = append(o.Realms, r.realm)
	}
	return o
}

// Outbound returns how calls leave through this account, with its password.
func (r *Registration) Outbound() (sipua.Outbound, error) {
	r.mu.Lock()
	o := r.out
	r.mu.Unlock()
	pw, err := r.password()
	if err != nil {
		return o, fmt.Errorf("account %s has no password: set it with \"trayphone account password %s\"", r.spec.ID, r.spec.ID)
	}
	o.Password = pw
	return o, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
