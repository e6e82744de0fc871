package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIsDTLS: RFC 7983 §7's demultiplexing by first byte: 20-63 is DTLS; STUN (0-3), ZRTP
// (16-19), TURN channels (64-79) and RTP/RTCP (128-191) are not.
func TestIsDTLS(t *testing.T) {
	t.Parallel()
	for b := 0; b < 256; b++ {
		if got, want := isDTLS([]byte{byte(b), 0}), b >= 20 && b <= 63; got != want {
			t.Errorf("isDTLS(first byte %d) = %v, want %v", b, got, want)
		}
	}
	if isDTLS(nil) {
		t.Error("isDTLS(empty) = true")
	}
}

func TestDTLSCertificateRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	cert, err := NewDTLSCertificate(now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeDTLSCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeDTLSCertificate(b, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Certificate[0], cert.Certificate[0]) {
		t.Error("certificate changed on the way through PEM")
	}
	if _, err := DecodeDTLSCertificate(b, now.AddDate(11, 0, 0)); err == nil || !strings.Contains(err.Error(), "valid") {
		t.Errorf("expired certificate: %v, want refused", err)
	}
	if _, err := DecodeDTLSCertificate([]byte("garbage"), now); err == nil {
		t.Error("garbage accepted")
	}
	other, _ := NewDTLSCertificate(now)
	if bytes.Equal(other.Certificate[0], cert.Certificate[0]) {
		t.Error("two certificates are the same")
	}
}

// dtlsPeer is one end of a DTLS-SRTP test: its sockets and certificate.
type dtlsPeer struct {
	rtp, rtcp *net.UDPConn
	cert      []byte
	cfg       DTLSConfig
}

func newDTLSPeer(t *testing.T, withRTCP bool) *dtlsPeer {
	t.Helper()
	rtp, rtcp, err := ListenRTP(sessLoopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rtp.Close(); rtcp.Close() })
	cert, err := NewDTLSCertificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := &dtlsPeer{rtp: rtp, cert: cert.Certificate[0]}
	if withRTCP {
		p.rtcp = rtcp
	}
	p.cfg = DTLSConfig{Certificate: cert, Suites: SRTPSuites, Timeout: 5 * time.Second}
	return p
}

func (p *dtlsPeer) addr() netip.AddrPort { return p.rtp.LocalAddr().(*net.UDPAddr).AddrPort() }

// expect makes p check that the far end's certificate is want's (by SHA-256, as the SDP does).
func (p *dtlsPeer) expect(want []byte) {
	sum := sha256.Sum256(want)
	p.cfg.VerifyPeer = func(der []byte) error {
		if got := sha256.Sum256(der); got != sum {
			return errors.New("the far end's certificate does not match the fingerprint in its SDP")
		}
		return nil
	}
}

type dtlsResult struct {
	d   *DTLS
	err error
}

func handshakePair(t *testing.T, a, b *dtlsPeer) (ra, rb dtlsResult) {
	t.Helper()
	a.cfg.Client, b.cfg.Client = true, false
	a.cfg.Remote, b.cfg.Remote = b.addr(), a.addr()
	ca, cb := make(chan dtlsResult, 1), make(chan dtlsResult, 1)
	go func() { d, err := HandshakeDTLS(context.Background(), a.rtp, a.rtcp, a.cfg); ca <- dtlsResult{d, err} }()
	go func() { d, err := HandshakeDTLS(context.Background(), b.rtp, b.rtcp, b.cfg); cb <- dtlsResult{d, err} }()
	ra, rb = <-ca, <-cb
	t.Cleanup(func() { ra.d.Close(); rb.d.Close() })
	return ra, rb
}

// TestHandshakeDTLS: a client and a server on loopback agree on keys: what one sends with is
// what the other receives with, RTCP has keys of its own, and the suite is our first choice.
func TestHandshakeDTLS(t *testing.T) {
	for _, suites := range [][]string{SRTPSuites, {SuiteAEADAES128GCM}, {SuiteAES128SHA1_32}} {
		t.Run(suites[0], func(t *testing.T) {
			a, b := newDTLSPeer(t, true), newDTLSPeer(t, true)
			a.expect(b.cert)
			b.expect(a.cert)
			a.cfg.Suites, b.cfg.Suites = suites, suites
			ra, rb := handshakePair(t, a, b)
			if ra.err != nil || rb.err != nil {
				t.Fatalf("handshake: client %v, server %v", ra.err, rb.err)
			}
			ka, kb := ra.d.SRTP(), rb.d.SRTP()
			n, _ := SRTPKeyLen(suites[0])
			if ka.Suite != suites[0] || kb.Suite != suites[0] || len(ka.LocalKey) != n {
				t.Fatalf("suites %s/%s with %d-byte keys, want %s with %d", ka.Suite, kb.Suite, len(ka.LocalKey), suites[0], n)
			}
			if !bytes.Equal(ka.LocalKey, kb.RemoteKey) || !bytes.Equal(ka.RemoteKey, kb.LocalKey) || bytes.Equal(ka.LocalKey, ka.RemoteKey) {
				t.Error("the keys do not mirror each other")
			}
			if !ra.d.RTCP() || !rb.d.RTCP() || !bytes.Equal(ka.RTCPLocalKey, kb.RTCPRemoteKey) || bytes.Equal(ka.RTCPLocalKey, ka.LocalKey) {
				t.Error("RTCP has no keys of its own")
			}
			if ka.String() != "srtp "+suites[0] {
				t.Errorf("String() = %q shows more than the suite", ka.String())
			}
		})
	}
}

// TestHandshakeDTLSFingerprintMismatch: a far end whose certificate is not the one its SDP named
// fails the handshake on both sides, and the error says so.
func TestHandshakeDTLSFingerprintMismatch(t *testing.T) {
	a, b := newDTLSPeer(t, false), newDTLSPeer(t, false)
	stranger, _ := NewDTLSCertificate(time.Now())
	a.expect(stranger.Certificate[0]) // the client expects another certificate than the server's
	b.expect(a.cert)
	ra, rb := handshakePair(t, a, b)
	if ra.err == nil || !strings.Contains(ra.err.Error(), "does not match the fingerprint") {
		t.Errorf("client: %v, want the fingerprint mismatch", ra.err)
	}
	if rb.err == nil {
		t.Error("server: handshake succeeded with a client that refused it")
	}
	// And the other way round: the server refuses the client's certificate.
	a, b = newDTLSPeer(t, false), newDTLSPeer(t, false)
	a.expect(b.cert)
	b.expect(stranger.Certificate[0])
	ra, rb = handshakePair(t, a, b)
	if rb.err == nil || !strings.Contains(rb.err.Error(), "does not match the fingerprint") {
		t.Errorf("server: %v, want the fingerprint mismatch", rb.err)
	}
	if ra.err == nil {
		t.Error("client: handshake succeeded with a server that refused it")
	}
}

// TestHandshakeDTLSTimeout: a far end that never answers ends the handshake after the timeout
// with an error that says so; a context cancelled (the call ended) ends it at once. Nothing is
// left running.
func TestHandshakeDTLSTimeout(t *testing.T) {
	before := runtime.NumGoroutine()
	a := newDTLSPeer(t, true)
	silent, _, err := ListenRTP(sessLoopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	a.expect(a.cert)
	for _, client := range []bool{true, false} {
		a.cfg.Client, a.cfg.Remote, a.cfg.Timeout = client, silent.LocalAddr().(*net.UDPAddr).AddrPort(), 1500*time.Millisecond
		start := time.Now()
		_, err := HandshakeDTLS(context.Background(), a.rtp, a.rtcp, a.cfg)
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no DTLS handshake with %s within 1.5s", a.cfg.Remote)) {
			t.Errorf("client=%v: %v, want a timeout naming the far end", client, err)
		}
		if took < 1400*time.Millisecond || took > 3*time.Second {
			t.Errorf("client=%v: gave up after %s, want 1.5 s", client, took)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	a.cfg.Timeout = 10 * time.Second
	if _, err := HandshakeDTLS(ctx, a.rtp, a.rtcp, a.cfg); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled: %v after %s, want an error at once", err, time.Since(start))
	}
	// The sockets are usable again: no read deadline was left behind.
	if err := a.rtp.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines left running (%d before)", n, before)
	}
}

// TestSessionDTLS: two sessions keyed by a DTLS-SRTP handshake carry a tone both ways with
// SRTCP on the RTCP sockets' own keys, and nothing fails authentication.
func TestSessionDTLS(t *testing.T) {
	sessCheckNoLeak(t)
	a, b := newDTLSPeer(t, true), newDTLSPeer(t, true)
	a.expect(b.cert)
	b.expect(a.cert)
	ra, rb := handshakePair(t, a, b)
	if ra.err != nil || rb.err != nil {
		t.Fatalf("handshake: %v, %v", ra.err, rb.err)
	}
	streamA, streamB := newSessToneStream(1000), newSessToneStream(1400)
	sa := sessNew(t, SessionConfig{Conn: a.rtp, RTCPConn: a.rtcp, Remote: b.addr(), Stream: streamA, SRTP: ra.d.SRTP(), DTLS: ra.d, NoVAD: true})
	sb := sessNew(t, SessionConfig{Conn: b.rtp, RTCPConn: b.rtcp, Remote: a.addr(), Stream: streamB, SRTP: rb.d.SRTP(), DTLS: rb.d, NoVAD: true})
	sa.Start()
	sb.Start()
	time.Sleep(1500 * time.Millisecond)
	_, heardByB := streamB.played(time.Second)
	_, heardByA := streamA.played(time.Second)
	sessCheckTone(t, "B (from A)", heardByB, 1000)
	sessCheckTone(t, "A (from B)", heardByA, 1400)
	if n := sa.Unauthentic() + sb.Unauthentic(); n != 0 {
		t.Errorf("%d packets failed authentication, want 0", n)
	}
	sa.Close()
	sb.Close()
}
