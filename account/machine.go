package account

import (
	"fmt"
	"time"

	"trayphone/internal/phone"
)

// Timing of the registration state machine.
const (
	// BackoffBase is the first retry delay after a failure; it doubles per failure up to BackoffMax.
	BackoffBase = 2 * time.Second
	// BackoffMax caps the retry delay of registrars that answer with errors.
	BackoffMax = 5 * time.Minute
	// RejectedRetry is how long a rejected password waits before trying again by itself (setting a
	// new password or Kick retries at once): a wrong password must not hammer the registrar.
	RejectedRetry = 30 * time.Minute
	// DownRegisterEvery is the shortest wait between REGISTERs while the registrar does not answer
	// at all: OPTIONS probes (ProbeMax apart) find out when it is back, and the REGISTER follows
	// at once. Each REGISTER to a silent registrar is up to 4 datagrams on UDP (retransmissions),
	// so this keeps them well under 12 a minute.
	DownRegisterEvery = time.Minute
	// ProbeTimeout bounds one OPTIONS keepalive or probe (on UDP: the request and two
	// retransmissions, at 0, 0.5 and 1.5 s).
	ProbeTimeout = 3 * time.Second
	// ProbeBase and ProbeMax are the backoff of the probes while the registrar does not answer;
	// ProbeMax keeps a returning registrar noticed within ~3 s. After ProbeSlowAfter without an
	// answer the probes slow down to ProbeSlowMax apart: a registrar gone for good is not pestered.
	ProbeBase      = time.Second
	ProbeMax       = 3 * time.Second
	ProbeSlowAfter = 5 * time.Minute
	ProbeSlowMax   = 30 * time.Second
	// FlowCheckInterval is how often a TCP or TLS registration checks that its connection to the
	// registrar is still open (a closed one re-registers at once).
	FlowCheckInterval = 2 * time.Second
	// MinRefresh floors the time between refreshes: a registrar granting "Expires: 1" must not
	// get a REGISTER every half second.
	MinRefresh = 10 * time.Second
	// maxExpires bounds a Min-Expires the registrar may ask for (423).
	maxExpires = 24 * time.Hour
)

// never is a wait that only a Kick or the context ends.
const never time.Duration = -1

// outcomeKind classifies the end of one registration attempt.
type outcomeKind int

const (
	outOK             outcomeKind = iota + 1 // 2xx
	outTooBrief                              // 423 with a usable Min-Expires
	outAuthRejected                          // 403, or 401/407 to fresh credentials
	outNoPassword                            // no password stored
	outNoAnswer                              // transaction timeout
	outUnreachable                           // transport error (refused, no route, TLS)
	outServerError                           // 5xx, 408, 6xx
	outRefused                               // other 4xx
	outContactChanged                        // 2xx, but the registrar sees us at another address
	outUntrusted                             // the TLS certificate is not trusted
	outKeyring                               // the password could not be read (keyring unreachable or locked)
)

// outcome is what one attempt ended with. It is plain data, so the transitions are pure.
type outcome struct {
	kind       outcomeKind
	code       int
	phrase     string
	granted    time.Duration // outOK: the expiry the registrar granted
	minExpires time.Duration // outTooBrief
	retryAfter time.Duration // Retry-After of a 5xx, if any
	err        string        // outUnreachable, outUntrusted, outKeyring: what went wrong, in words
}

// describe says in words how an attempt ended (for logs: never empty).
func (o outcome) describe(timeout time.Duration) string {
	switch o.kind {
	case outOK:
		return fmt.Sprintf("accepted (%d)", o.code)
	case outNoAnswer:
		return fmt.Sprintf("no answer within %s", timeout)
	case outNoPassword:
		return "no password stored"
	case outAuthRejected:
		return fmt.Sprintf("password rejected (%d)", o.code)
	case outUnreachable, outUntrusted, outKeyring:
		if o.err != "" {
			return o.err
		}
	}
	if o.code != 0 {
		return fmt.Sprintf("answered %d %s", o.code, o.phrase)
	}
	return "failed for an unknown reason"
}

// machine is the registration state of one account. Its step method is pure: given an outcome
// and a jitter draw in [0,1) it moves to the next state and says how long to wait before the next
// attempt.
type machine struct {
	id       string // the account's ID
	name     string // alice@example.org
	hop      string // registrar or proxy host:port, for messages
	state    phone.RegState
	reason   string
	failures int
	expires  time.Duration // what we ask for
}

// step applies o and returns the wait before the next attempt (never: wait for a Kick).
func (m *machine) step(o outcome, jitter float64) time.Duration {
	switch o.kind {
	case outOK:
		m.state, m.reason, m.failures = phone.RegRegistered, "", 0
		return refreshAfter(o.granted, m.expires)
	case outContactChanged:
		m.state, m.reason = phone.RegRegistering, ""
		return 0
	case outTooBrief:
		if o.minExpires <= m.expires || o.minExpires > maxExpires {
			return m.fail(fmt.Sprintf("registrar %s wants an impossible registration interval (423, Min-Expires %s)", m.hop, o.minExpires), o, jitter)
		}
		m.expires = o.minExpires
		m.state, m.reason = phone.RegRegistering, ""
		return 0
	case outAuthRejected:
		m.failures++
		m.state = phone.RegFailed
		m.reason = fmt.Sprintf("registrar rejected the password for %s (%d)", m.name, o.code)
		return RejectedRetry
	case outNoPassword:
		m.state = phone.RegUnregistered
		m.reason = fmt.Sprintf("set the password with trayphone account password %s", m.id)
		return never
	case outKeyring:
		// The keyring is not reachable or locked: the Registration tries reading it again after
		// o.retryAfter; no REGISTER without the password.
		m.state = phone.RegRegistering
		m.reason = fmt.Sprintf("waiting for the keyring to read the password of %s: %s; trying again in %s", m.name, o.err, roundWait(o.retryAfter))
		return o.retryAfter
	case outUntrusted:
		m.failures++
		m.state = phone.RegFailed
		m.reason = fmt.Sprintf("the TLS certificate of registrar %s is not trusted (%s): if you know this server, trust it with \"trayphone account trust\"", m.hop, o.err)
		return RejectedRetry
	case outNoAnswer:
		return m.down(fmt.Sprintf("registrar %s not answering (no answer to REGISTER)", m.hop), jitter)
	case outUnreachable:
		return m.down(fmt.Sprintf("cannot reach registrar %s: %s", m.hop, o.err), jitter)
	case outServerError:
		return m.fail(fmt.Sprintf("registrar %s answered %d %s", m.hop, o.code, o.phrase), o, jitter)
	case outRefused:
		return m.fail(fmt.Sprintf("registrar %s refused %s (%d %s)", m.hop, m.name, o.code, o.phrase), o, jitter)
	}
	return m.fail("registration failed", o, jitter)
}

// fail records a failure that is retried with capped exponential backoff plus jitter.
func (m *machine) fail(what string, o outcome, jitter float64) time.Duration {
	m.failures++
	wait := Backoff(m.failures, jitter)
	if o.retryAfter > wait {
		wait = min(o.retryAfter, BackoffMax)
	}
	m.state = phone.RegFailed
	m.reason = fmt.Sprintf("%s; retrying in %s", what, roundWait(wait))
	return wait
}

// down records a registrar that does not answer at all: the state is "registering" (it is being
// probed, and registered again as soon as it answers) with a reason naming it, and the next
// REGISTER waits at least DownRegisterEvery.
func (m *machine) down(what string, jitter float64) time.Duration {
	m.failures++
	m.state = phone.RegRegistering
	m.reason = what + "; registering again as soon as it answers"
	return max(Backoff(m.failures, jitter), DownRegisterEvery)
}

// kick resets the backoff: the next attempt is a fresh start.
func (m *machine) kick() {
	m.failures = 0
	m.state = phone.RegRegistering
	m.reason = ""
}

// Backoff is the delay before retry number n (1 = first): BackoffBase doubling per failure up to
// BackoffMax, with "equal jitter" (half fixed, half random) so that many phones that lost the same
// registrar do not come back in lockstep. jitter is a draw in [0,1).
func Backoff(n int, jitter float64) time.Duration {
	d := BackoffBase
	for i := 1; i < n && d < BackoffMax; i++ {
		d *= 2
	}
	d = min(d, BackoffMax)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// refreshAfter says when to refresh a registration the registrar granted for granted (asked: asked):
// at 85 % of the lifetime, or half of it for short ones, so that a lost refresh still has time
// for retransmissions before the binding expires; never sooner than MinRefresh.
func refreshAfter(granted, asked time.Duration) time.Duration {
	if granted <= 0 {
		granted = asked
	}
	if granted <= time.Minute {
		return max(granted/2, MinRefresh)
	}
	return granted * 85 / 100
}

func roundWait(d time.Duration) string {
	if d < time.Second {
		return "1 s"
	}
	if d < 2*time.Minute {
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	}
	return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
}

// KeyringBackoff is the wait before reading the keyring again after n failed reads (1 = first):
// 2 s doubling up to a minute, with equal jitter.
func KeyringBackoff(n int, jitter float64) time.Duration {
	d := 2 * time.Second
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, time.Minute)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// probeWait is the wait before the next OPTIONS probe of a registrar that has not answered for
// downFor, after n failed probes: ProbeBase doubling up to ProbeMax (ProbeSlowMax once it has been
// down for ProbeSlowAfter), with equal jitter so that many phones do not probe in lockstep.
func probeWait(n int, downFor time.Duration, jitter float64) time.Duration {
	ceiling := ProbeMax
	if downFor >= ProbeSlowAfter {
		ceiling = ProbeSlowMax
	}
	d := ProbeBase
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + time.Duration(jitter*float64(d/2))
}
