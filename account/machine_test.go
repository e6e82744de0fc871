package account

import (
	"testing"
	"time"

	"trayphone/internal/phone"
)

func TestMachineStep(t *testing.T) {
	const name, hop = "alice@example.org", "10.0.0.5:5060"
	tests := []struct {
		name       string
		failures   int
		expires    time.Duration
		in         outcome
		jitter     float64
		wantState  phone.RegState
		wantReason string
		wantWait   time.Duration
		wantExp    time.Duration
	}{
		{name: "ok refreshes at 85% of the granted hour", expires: time.Hour,
			in: outcome{kind: outOK, code: 200, granted: time.Hour}, wantState: phone.RegRegistered, wantWait: 51 * time.Minute},
		{name: "ok honours a shorter grant", expires: time.Hour,
			in: outcome{kind: outOK, code: 200, granted: 600 * time.Second}, wantState: phone.RegRegistered, wantWait: 510 * time.Second},
		{name: "ok with a short grant refreshes at half", expires: time.Hour,
			in: outcome{kind: outOK, code: 200, granted: 30 * time.Second}, wantState: phone.RegRegistered, wantWait: 15 * time.Second},
		{name: "ok resets failures", failures: 5, expires: time.Hour,
			in: outcome{kind: outOK, code: 200, granted: time.Hour}, wantState: phone.RegRegistered, wantWait: 51 * time.Minute},
		{name: "423 raises the expiry and retries now", expires: 60 * time.Second,
			in: outcome{kind: outTooBrief, code: 423, minExpires: 1800 * time.Second}, wantState: phone.RegRegistering, wantExp: 1800 * time.Second},
		{name: "423 that does not raise fails", expires: 3600 * time.Second,
			in: outcome{kind: outTooBrief, code: 423, minExpires: 60 * time.Second}, jitter: 0, wantState: phone.RegFailed,
			wantReason: "registrar 10.0.0.5:5060 wants an impossible registration interval (423, Min-Expires 1m0s); retrying in 1 s", wantWait: time.Second},
		{name: "403 is a rejected password, retried only after half an hour", expires: time.Hour,
			in: outcome{kind: outAuthRejected, code: 403}, wantState: phone.RegFailed,
			wantReason: "registrar rejected the password for alice@example.org (403)", wantWait: RejectedRetry},
		{name: "401 to fresh credentials", expires: time.Hour,
			in: outcome{kind: outAuthRejected, code: 401}, wantState: phone.RegFailed,
			wantReason: "registrar rejected the password for alice@example.org (401)", wantWait: RejectedRetry},
		{name: "no password is unregistered and waits for a kick", expires: time.Hour,
			in: outcome{kind: outNoPassword}, wantState: phone.RegUnregistered,
			wantReason: "set the password with trayphone account password work", wantWait: never},
		{name: "a keyring that cannot be read is tried again", expires: time.Hour,
			in: outcome{kind: outKeyring, err: "keyring locked", retryAfter: 3 * time.Second}, wantState: phone.RegRegistering,
			wantReason: "waiting for the keyring to read the password of alice@example.org: keyring locked; trying again in 3 s", wantWait: 3 * time.Second},
		{name: "ok floors a 1 s grant", expires: time.Hour,
			in: outcome{kind: outOK, code: 200, granted: time.Second}, wantState: phone.RegRegistered, wantWait: MinRefresh},
		{name: "first timeout: registering, the next REGISTER a minute later (probes find it sooner)", expires: time.Hour, in: outcome{kind: outNoAnswer}, jitter: 0.5, wantState: phone.RegRegistering,
			wantReason: "registrar 10.0.0.5:5060 not answering (no answer to REGISTER); registering again as soon as it answers", wantWait: DownRegisterEvery},
		{name: "eighth timeout backs off", failures: 7, expires: time.Hour, in: outcome{kind: outNoAnswer}, jitter: 0.999, wantState: phone.RegRegistering,
			wantReason: "registrar 10.0.0.5:5060 not answering (no answer to REGISTER); registering again as soon as it answers", wantWait: 256*time.Second - 128*time.Millisecond},
		{name: "backoff is capped", failures: 40, expires: time.Hour, in: outcome{kind: outNoAnswer}, jitter: 0.999, wantState: phone.RegRegistering,
			wantReason: "registrar 10.0.0.5:5060 not answering (no answer to REGISTER); registering again as soon as it answers", wantWait: BackoffMax - 150*time.Millisecond},
		{name: "503 with Retry-After", expires: time.Hour, in: outcome{kind: outServerError, code: 503, phrase: "Service Unavailable", retryAfter: 40 * time.Second},
			wantState: phone.RegFailed, wantReason: "registrar 10.0.0.5:5060 answered 503 Service Unavailable; retrying in 40 s", wantWait: 40 * time.Second},
		{name: "unreachable", expires: time.Hour, in: outcome{kind: outUnreachable, err: "connection refused"},
			wantState: phone.RegRegistering, wantReason: "cannot reach registrar 10.0.0.5:5060: connection refused; registering again as soon as it answers", wantWait: DownRegisterEvery},
		{name: "404", expires: time.Hour, in: outcome{kind: outRefused, code: 404, phrase: "Not Found"},
			wantState: phone.RegFailed, wantReason: "registrar 10.0.0.5:5060 refused alice@example.org (404 Not Found); retrying in 1 s", wantWait: time.Second},
		{name: "untrusted TLS certificate waits for the user", expires: time.Hour, in: outcome{kind: outUntrusted, err: "x509: unknown authority"},
			wantState: phone.RegFailed, wantReason: "the TLS certificate of registrar 10.0.0.5:5060 is not trusted (x509: unknown authority): if you know this server, trust it with \"trayphone account trust\"", wantWait: RejectedRetry},
		{name: "contact changed re-registers now", expires: time.Hour, in: outcome{kind: outContactChanged, code: 200},
			wantState: phone.RegRegistering},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := machine{id: "work", name: name, hop: hop, state: phone.RegRegistering, failures: tc.failures, expires: tc.expires}
			wait := m.step(tc.in, tc.jitter)
			if m.state != tc.wantState {
				t.Errorf("state: got %s, want %s", m.state, tc.wantState)
			}
			if m.reason != tc.wantReason {
				t.Errorf("reason: got %q, want %q", m.reason, tc.wantReason)
			}
			if wait != tc.wantWait {
				t.Errorf("wait: got %s, want %s", wait, tc.wantWait)
			}
			if tc.wantExp != 0 && m.expires != tc.wantExp {
				t.Errorf("expires: got %s, want %s", m.expires, tc.wantExp)
			}
		})
	}
}

func TestProbeWait(t *testing.T) {
	for _, tc := range []struct {
		n       int
		downFor time.Duration
		want    time.Duration // with the largest jitter
	}{
		{1, 0, ProbeBase}, {2, 5 * time.Second, 2 * time.Second}, {3, 10 * time.Second, ProbeMax}, {50, ProbeSlowAfter - time.Second, ProbeMax},
		{50, ProbeSlowAfter, ProbeSlowMax},
	} {
		if got := probeWait(tc.n, tc.downFor, 0.999999999); got < tc.want-time.Millisecond || got > tc.want {
			t.Errorf("probeWait(%d, %s, max jitter): got %s, want %s", tc.n, tc.downFor, got, tc.want)
		}
		if got := probeWait(tc.n, tc.downFor, 0); got != tc.want/2 {
			t.Errorf("probeWait(%d, %s, no jitter): got %s, want %s", tc.n, tc.downFor, got, tc.want/2)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 9: BackoffMax, 100: BackoffMax} {
		if got := Backoff(n, 0.999999999); got < want-time.Millisecond || got > want {
			t.Errorf("Backoff(%d, max jitter): got %s, want %s", n, got, want)
		}
		if got := Backoff(n, 0); got != want/2 {
			t.Errorf("Backoff(%d, no jitter): got %s, want %s", n, got, want/2)
		}
	}
}
