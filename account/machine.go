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
	// BackoffMax caps the retry delay of registrars that do not answer or answer with errors.
	BackoffMax = 5 * time.Minute
	// RejectedRetry is how long a rejected password waits before trying again by itself (setting a
	// new password or Kick retries at once): a wrong password must not hammer the registrar.
	RejectedRetry = 30 * time.Minute
	// KeepaliveInterval is the CRLF ping period on UDP (RFC 5626 §4.4.1; NATs drop UDP flows after
	// ~30 s).
	KeepaliveInterval = 25 * time.Second
	// FlowCheckInterval is how often a TCP or TLS registration checks that its connection to the
	// registrar is still open (a closed one re-registers at once).
	FlowCheckInterval = 2 * time.Second
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
)

// outcome is what one attempt ended with. It is plain data, so the transitions are pure.
type outcome struct {
	kind       outcomeKind
	code       int
	phrase     string
	granted    time.Duration // outOK: the expiry the registrar granted
	minExpires time.Duration // outTooBrief
	retryAfter time.Duration // Retry-After of a 5xx, if any
	err        string        // outUnreachable: what went wrong, in words
}

// machine is the registration state of one account. Its step method is pure: given an outcome
// and a jitter draw in [0,1) it moves to the next state and says how long to wait before the next
// attempt.
type machine struct {
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
		m.state = phone.RegFailed
		m.reason = fmt.Sprintf("no password for %s yet: set it with \"trayphone account password\"", m.name)
		return never
	case outUntrusted:
		m.failures++
		m.state = phone.RegFailed
		m.reason = fmt.Sprintf("the TLS certificate of registrar %s is not trusted (%s): if you know this server, trust it with \"trayphone account trust\"", m.hop, o.err)
		return RejectedRetry
	case outNoAnswer:
		return m.fail(fmt.Sprintf("registrar %s not answering", m.hop), o, jitter)
	case outUnreachable:
		return m.fail(fmt.Sprintf("cannot reach registrar %s: %s", m.hop, o.err), o, jitter)
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
// for retransmissions before the binding expires.
func refreshAfter(granted, asked time.Duration) time.Duration {
	if granted <= 0 {
		granted = asked
	}
	if granted <= time.Minute {
		return granted / 2
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
