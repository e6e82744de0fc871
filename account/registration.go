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
	"sync/atomic"
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
	// attemptTimeout bounds one REGISTER transaction (8 s: on UDP the request and 4
	// retransmissions). It is shorter than timer F (32 s) because the attempt runs on the
	// registration's goroutine, which must notice an outage within 15 s; a registrar that comes
	// back later is found by the OPTIONS probes.
	attemptTimeout = 8 * time.Second
	// downAttemptTimeout bounds a REGISTER while the registrar is known not to answer (on UDP the
	// request and 3 retransmissions).
	downAttemptTimeout = 4 * time.Second
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
	// down is set while the registrar does not answer at all (REGISTER or OPTIONS timed out,
	// connection refused): OPTIONS probes run with backoff and a REGISTER follows the first answer.
	down      bool
	downSince time.Time
	probes    int  // failed probes since down
	distrust  bool // a probe's answer was followed by a REGISTER that got none: wait for the timer
	probeKick bool // this attempt follows a probe's answer
	// pw is the password once read (kept in memory: the keyring is asked once, off the call
	// manager's goroutine); reading is set while a read runs; keyFails counts failed reads.
	pw        string
	reading   bool
	keyFails  int
	pwc       chan pwResult
	forget    atomic.Bool // Reload: read the password again
	shortWarn bool        // the registrar's too brief grant was logged
	flow      clock.Timer

	wg sync.WaitGroup // the probe and password-reading goroutines

	mu     sync.Mutex
	info   phone.AccountInfo
	out    sipua.Outbound // Contact/LocalIP of the current registration
	outPW  string         // pw, for Outbound
	outErr string         // why there is no password yet, for Outbound
	seen   netip.AddrPort // a copy of *fixed for SeenAt
}

type pwResult struct {
	pw  string
	err error
}

// SeenAt is where the registrar saw our UDP REGISTER come from (Via received/rport, RFC 3581)
// when that differed from our Contact; invalid otherwise. The nat side compares it with what a
// STUN server sees of the same socket: a NAT that maps per destination shows two ports. Safe
// from any goroutine.
func (r *Registration) SeenAt() netip.AddrPort {
	if r.spec.Transport != "udp" {
		return netip.AddrPort{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
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

// NewRegistration prepares the registration of spec through ua. password reads the account's
// password (it may block, e.g. on a keyring's unlock prompt, but should give up after a few
// seconds); it is called on a goroutine of its own before the first REGISTER and again after
// Reload, and its result is kept in memory. Its error wraps ErrNoPassword when none is stored.
// Nothing is sent until Serve.
func NewRegistration(spec Spec, ua UA, password func() (string, error), opts ...Option) *Registration {
	r := &Registration{
		spec: spec, ua: ua, password: password,
		clk: clock.Real{}, log: slog.New(slog.DiscardHandler), jitter: mrand.Float64,
		kickc:   make(chan struct{}, 1),
		pwc:     make(chan pwResult, 1),
		token:   randHex(8),
		callID:  randHex(12),
		fromTag: randHex(8),
	}
	for _, o := range opts {
		o(r)
	}
	r.log = r.log.With("account", spec.ID, "aor", spec.AOR.String())
	r.m = machine{id: spec.ID, name: spec.Name(), hop: spec.HopAddr(), state: phone.RegUnregistered, expires: spec.Expires}
	r.contact = r.newContact()
	r.info = phone.AccountInfo{ID: spec.ID, AOR: spec.AOR.String(), State: phone.RegUnregistered, VoicemailURI: spec.voicemailURI()}
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

// Reload reads the password again (a new one was stored) and registers now. It never blocks.
func (r *Registration) Reload() {
	r.forget.Store(true)
	r.Kick()
}

// Kick asks for a registration now (network changed, machine woke up, registrar known to be back).
// It is the one "re-register now" entry point: it resets the backoff, recomputes the Contact from
// the current local address and REGISTERs at once (the password is not read again: see Reload).
// It never blocks.
func (r *Registration) Kick() {
	select {
	case r.kickc <- struct{}{}:
	default:
	}
}

// probeResult is the end of one OPTIONS keepalive or probe.
type probeResult struct {
	err  error // nil: the next hop answered (any final response)
	code int
}

// Serve keeps the account registered until ctx is done; then it removes the binding
// (un-REGISTER, bounded by UnregisterTimeout) and returns nil, after its probe (if one is in
// flight, bounded by ProbeTimeout and ctx) has ended.
//
// While registered it sends an OPTIONS keepalive to the registrar or outbound proxy every
// Spec.Keepalive (and on TCP/TLS checks every FlowCheckInterval that the connection is open).
// A keepalive that gets no answer turns the state to "registering" with a reason naming the
// registrar, and OPTIONS probes follow with jittered backoff (ProbeBase..ProbeMax); the first
// answer triggers a REGISTER at once.
func (r *Registration) Serve(ctx context.Context) error {
	timer := r.clk.NewTimer(0)
	defer timer.Stop()
	probe := r.clk.NewTimer(r.spec.Keepalive)
	defer probe.Stop()
	var flowC <-chan time.Time
	if r.spec.Transport != "udp" {
		flow := r.clk.NewTimer(FlowCheckInterval)
		defer flow.Stop()
		flowC = flow.C()
		r.flow = flow
	}
	results := make(chan probeResult, 1)
	defer r.wg.Wait() // after the un-REGISTER; ctx is done, so a probe ends at once, a password read within its timeout
	busy := false
	for {
		select {
		case <-ctx.Done():
			r.unregister()
			return nil
		case <-r.kickc:
			if r.forget.Swap(false) {
				r.setPassword("", "")
				r.keyFails = 0
			}
			r.m.kick()
			r.setDown(false)
			r.recomputeContact()
			r.attempt(ctx, timer)
			r.armProbe(probe, busy)
		case <-timer.C():
			r.attempt(ctx, timer)
			r.armProbe(probe, busy)
		case <-flowC:
			if r.flowLost() {
				r.attempt(ctx, timer)
				r.armProbe(probe, busy)
			}
			r.flow.Reset(FlowCheckInterval)
		case <-probe.C():
			if busy || !(r.down || r.m.state == phone.RegRegistered) {
				r.armProbe(probe, busy)
				continue
			}
			if r.flowLost() { // on TCP/TLS an OPTIONS would open a new connection: check first
				r.attempt(ctx, timer)
				r.armProbe(probe, busy)
				continue
			}
			busy = true
			r.wg.Add(1)
			req, dst := r.optionsRequest()
			hop := r.hopAddrPort()
			go func() { // ends within ProbeTimeout
				defer r.wg.Done()
				results <- r.sendProbe(ctx, req, dst, hop)
			}()
		case pr := <-r.pwc:
			r.reading = false
			if ctx.Err() != nil {
				continue
			}
			r.passwordRead(ctx, pr, timer)
			r.armProbe(probe, busy)
		case res := <-results:
			busy = false
			if ctx.Err() != nil {
				continue
			}
			wasDown := r.down
			if r.probed(res) {
				r.probeKick = true
				r.attempt(ctx, timer)
			} else if r.down && !wasDown {
				// Just went down: REGISTER within DownRegisterEvery even if OPTIONS stay unanswered
				// (a registrar may ignore them), not only at the refresh time.
				timer.Stop()
				timer.Reset(DownRegisterEvery)
			}
			r.armProbe(probe, busy)
		}
	}
}

// armProbe sets the probe timer for the current state: the keepalive period while registered
// (counted from the last answer, REGISTER or state change), the probe backoff while the registrar is
// down; stopped otherwise. While a probe is in flight the timer is re-armed when it ends.
func (r *Registration) armProbe(probe clock.Timer, busy bool) {
	switch {
	case r.down:
		if !busy {
			probe.Stop()
			probe.Reset(probeWait(r.probes, r.clk.Now().Sub(r.downSince), r.jitter()))
		}
	case r.m.state == phone.RegRegistered:
		probe.Stop()
		probe.Reset(r.spec.Keepalive)
	default:
		probe.Stop()
	}
}

// setDown records whether the registrar answers at all.
func (r *Registration) setDown(down bool) {
	if down && !r.down {
		r.downSince = r.clk.Now()
		r.probes = 0
	}
	if !down {
		r.distrust = false
	}
	r.down = down
}

// probed applies the result of an OPTIONS keepalive or probe; it reports whether to REGISTER now.
func (r *Registration) probed(res probeResult) (register bool) {
	if res.err == nil {
		if r.down {
			if r.distrust {
				r.log.Debug("registrar answers OPTIONS again; REGISTER waits for its timer (the last one got no answer)")
				return false
			}
			r.log.Info("registrar answers again: registering", "code", res.code)
			return true
		}
		return false
	}
	if r.down {
		r.probes++
		r.log.Debug("registrar still not answering", "error", res.err)
		return false
	}
	if r.m.state != phone.RegRegistered {
		return false
	}
	// The registrar stopped answering while we were registered.
	r.setDown(true)
	r.probes = 1
	r.m.state = phone.RegRegistering
	r.m.reason = fmt.Sprintf("registrar %s stopped answering (%s); registering again as soon as it answers", r.m.hop, res.err)
	r.log.Warn("registrar stopped answering", "registrar", r.m.hop, "error", res.err.Error())
	r.publish()
	return false
}

// optionsRequest builds the OPTIONS keepalive for the next hop (RFC 3261 §11) and the address it
// goes to when the hop is a name (where the registrar's answers came from: no DNS on the way).
func (r *Registration) optionsRequest() (*sip.Request, string) {
	uri := r.spec.NextHop()
	uri.UriParams = sip.NewParams()
	if r.spec.Transport != "udp" {
		uri.UriParams.Add("transport", r.spec.Transport)
	}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.SetTransport(strings.ToUpper(r.spec.Transport))
	from := &sip.FromHeader{Address: r.spec.AOR, Params: sip.NewParams()}
	from.Params.Add("tag", randHex(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	callID := sip.CallIDHeader(randHex(12))
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
	req.SetBody(nil)
	dst := ""
	if _, ok := r.spec.HopIP(); !ok && r.hop.IsValid() {
		dst = r.hop.String()
	}
	return req, dst
}

// unreachabler is what a UA offers to read ICMP errors (*sipua.UA has it).
type unreachabler interface {
	Unreachable(ctx context.Context, dst netip.AddrPort, wait time.Duration) error
}

// sendProbe sends one OPTIONS (on any goroutine: it touches no state of r). On UDP it also asks,
// where the UA can, whether the host answers "port unreachable" (ICMP): then the probe fails at
// once instead of after ProbeTimeout.
func (r *Registration) sendProbe(ctx context.Context, req *sip.Request, dst string, hop netip.AddrPort) probeResult {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	if dst != "" {
		req.SetDestination(dst)
	}
	resc := make(chan probeResult, 1)
	go func() { // ends within ProbeTimeout (ctx)
		res, err := r.ua.Do(ctx, req)
		resc <- probeOutcome(ctx, res, err)
	}()
	var icmp chan error
	if u, ok := r.ua.(unreachabler); ok && r.spec.Transport == "udp" && hop.IsValid() {
		icmp = make(chan error, 1)
		go func() { icmp <- u.Unreachable(ctx, hop, ProbeTimeout) }() // ends within ProbeTimeout
	}
	for {
		select {
		case pr := <-resc:
			if icmp != nil {
				cancel()
				<-icmp
			}
			return pr
		case err := <-icmp:
			icmp = nil
			if err != nil {
				cancel()
				<-resc
				return probeResult{err: fmt.Errorf("OPTIONS: %v", err)}
			}
		}
	}
}

// probeOutcome classifies the end of an OPTIONS transaction.
func probeOutcome(ctx context.Context, res *sip.Response, err error) probeResult {
	if err == nil {
		return probeResult{code: res.StatusCode}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, sip.ErrTransactionTimeout) {
		return probeResult{err: fmt.Errorf("no answer to OPTIONS within %s", ProbeTimeout)}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return probeResult{err: fmt.Errorf("OPTIONS: %v", op.Err)}
	}
	return probeResult{err: fmt.Errorf("OPTIONS: %v", err)}
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
	probeKick := r.probeKick
	r.probeKick = false
	if r.pw == "" {
		r.readPassword(ctx) // the attempt follows when it is read
		return
	}
	var wait time.Duration
	for i := 0; i < 4; i++ { // 423 and Contact fixes retry at once, a few times at most
		timeout := attemptTimeout
		if r.down {
			timeout = downAttemptTimeout
		}
		o := r.register(ctx, r.m.expires, timeout)
		if ctx.Err() != nil {
			return
		}
		wait = r.m.step(o, r.jitter())
		r.log.Debug("registration attempt", "state", r.m.state.String(), "code", o.code, "next", wait)
		switch o.kind {
		case outNoAnswer, outUnreachable:
			r.setDown(true)
			if probeKick {
				r.distrust = true // it answered OPTIONS, not REGISTER: only the timer retries
			}
		case outOK:
			r.setDown(false)
			r.warnShortGrant(o.granted)
		case outNoPassword, outKeyring:
		default:
			r.setDown(false)
		}
		if wait != 0 {
			break
		}
	}
	switch r.m.state {
	case phone.RegFailed:
		r.log.Warn("registration failed", "reason", r.m.reason)
	case phone.RegRegistered:
		r.log.Info("registered", "contact", r.contact.String(), "refresh_in", wait.Round(time.Second))
	case phone.RegRegistering:
		r.log.Warn("registrar not answering", "reason", r.m.reason)
	}
	timer.Stop()
	if wait >= 0 {
		timer.Reset(wait)
	}
	r.publish() // after arming the timer, so that whoever sees the new state may move the clock
}

// readPassword starts reading the password on a goroutine of its own (unless one is running); the
// result arrives on r.pwc.
func (r *Registration) readPassword(ctx context.Context) {
	if r.reading {
		return
	}
	r.reading = true
	r.wg.Add(1)
	go func() { // ends when password returns (Secrets gives up after KeyringTimeout)
		defer r.wg.Done()
		pw, err := r.password()
		if err == nil && pw == "" {
			err = ErrNoPassword
		}
		r.pwc <- pwResult{pw, err}
	}()
}

// passwordRead applies the end of a password read: register now, or say why not and, for a keyring
// that is not reachable or locked, try again with backoff.
func (r *Registration) passwordRead(ctx context.Context, pr pwResult, timer clock.Timer) {
	if pr.err == nil {
		r.keyFails = 0
		r.setPassword(pr.pw, "")
		r.attempt(ctx, timer)
		return
	}
	var wait time.Duration
	if errors.Is(pr.err, ErrNoPassword) {
		wait = r.m.step(outcome{kind: outNoPassword}, 0)
		r.log.Warn("no password stored", "hint", r.m.reason)
	} else {
		r.keyFails++
		wait = KeyringBackoff(r.keyFails, r.jitter())
		r.m.step(outcome{kind: outKeyring, err: pr.err.Error(), retryAfter: wait}, 0)
		r.log.Warn("cannot read the password", "error", pr.err.Error(), "retry_in", wait.Round(time.Second))
	}
	r.setPassword("", r.m.reason)
	timer.Stop()
	if wait >= 0 {
		timer.Reset(wait)
	}
	r.publish()
}

// setPassword keeps pw (and why there is none, for Outbound).
func (r *Registration) setPassword(pw, why string) {
	r.pw = pw
	r.mu.Lock()
	r.outPW, r.outErr = pw, why
	r.mu.Unlock()
}

// warnShortGrant logs, once, a registrar that grants less than MinRefresh.
func (r *Registration) warnShortGrant(granted time.Duration) {
	if granted <= 0 || granted >= 2*MinRefresh || r.shortWarn {
		return
	}
	r.shortWarn = true
	r.log.Warn("registrar grants a very short registration: refreshing less often than it asks",
		"granted", granted, "refresh_every", MinRefresh)
}

// register sends one REGISTER (answering a digest challenge) and classifies the result.
func (r *Registration) register(ctx context.Context, expires, timeout time.Duration) outcome {
	pw := r.pw
	if pw == "" {
		return outcome{kind: outNoPassword}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
	var err error
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
	r.seen = ap
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
	r.mu.Lock()
	r.seen = netip.AddrPort{}
	r.mu.Unlock()
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
	o := r.register(ctx, 0, UnregisterTimeout)
	if o.kind == outOK {
		r.log.Info("unregistered")
	} else {
		r.log.Warn("could not unregister", "registrar", r.m.hop, "error", o.describe(UnregisterTimeout))
	}
	r.m.state, r.m.reason = phone.RegUnregistered, ""
	r.publish()
}

// hopAddrPort is the next hop's address for keepalives: its IP when given as one, else the
// address the registrar's answers came from (what DNS gave sipgo); invalid when unknown.
func (r *Registration) hopAddrPort() netip.AddrPort {
	if ip, ok := r.spec.HopIP(); ok {
		_, p, _ := net.SplitHostPort(r.spec.HopAddr())
		port, _ := strconv.Atoi(p)
		return netip.AddrPortFrom(ip, uint16(port))
	}
	return r.hop
}

// flowLost checks, while registered over TCP or TLS, that the connection to the registrar is still
// open. A closed one (the registrar restarted, the network changed) took our binding's flow with
// it: it reports true (register again now) and says so in the state.
func (r *Registration) flowLost() bool {
	if r.spec.Transport == "udp" || r.m.state != phone.RegRegistered {
		return false
	}
	dst := r.hopAddrPort()
	if !dst.IsValid() {
		return false
	}
	if err := r.ua.Ping(r.spec.Transport, dst); !errors.Is(err, sipua.ErrNoFlow) {
		return false
	}
	r.log.Info("connection to the registrar closed: registering again")
	r.m.state = phone.RegRegistering
	r.m.reason = fmt.Sprintf("the %s connection to registrar %s closed; registering again", strings.ToUpper(r.spec.Transport), r.m.hop)
	r.publish()
	return true
}

// publish stores and announces the current snapshot.
func (r *Registration) publish() {
	info := phone.AccountInfo{ID: r.spec.ID, AOR: r.spec.AOR.String(), State: r.m.state, Reason: r.m.reason, VoicemailURI: r.spec.voicemailURI()}
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

// Outbound returns how calls leave through this account, with its password. It never reads the
// keyring: the password is the one the registration read; before that it returns an error that
// says why there is none.
func (r *Registration) Outbound() (sipua.Outbound, error) {
	r.mu.Lock()
	o, pw, why := r.out, r.outPW, r.outErr
	r.mu.Unlock()
	if pw == "" {
		if why == "" {
			why = "its password has not been read yet"
		}
		return o, fmt.Errorf("account %s cannot be used: %s", r.spec.ID, why)
	}
	o.Password = pw
	return o, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
