package media

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/logging"
	"github.com/pion/srtp/v3"
	"github.com/pion/transport/v4/deadline"
)

// DTLS-SRTP (RFC 5764, https://www.rfc-editor.org/rfc/rfc5764): the two ends run a DTLS
// handshake on the call's own RTP (and RTCP) socket, each proving it holds the certificate whose
// digest its SDP named (RFC 5763 §5; the caller's VerifyPeer checks it), and the SRTP master
// keys are exported from the handshake (use_srtp, RFC 5764 §4.2). pion/dtls runs the handshake
// and its retransmissions. Datagrams on a media socket are told apart by their first byte
// (RFC 7983 §7): 0-3 STUN, 20-63 DTLS, 128-191 RTP and RTCP.

// DefaultDTLSTimeout bounds a DTLS handshake when DTLSConfig.Timeout is zero: pion retransmits
// a lost flight after dtlsFlightInterval, doubling, so this allows five retransmissions.
const DefaultDTLSTimeout = 10 * time.Second

// rtcpDTLSGrace is how long the RTCP socket's handshake may run on after the RTP socket's is
// done before the call goes on without RTCP.
const rtcpDTLSGrace = 2 * time.Second

// dtlsFlightInterval is when a DTLS flight is first retransmitted (pion doubles it after).
const dtlsFlightInterval = 200 * time.Millisecond

// isDTLS reports whether b is a DTLS record by its first byte (RFC 7983 §7: 20-63).
func isDTLS(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

// NewDTLSCertificate makes a self-signed ECDSA P-256 certificate for DTLS-SRTP: its digest,
// sent in the SDP, is what identifies us; no one checks its name or chain (RFC 5763 §5).
func NewDTLSCertificate(now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
	}
	serial, err := crand.Int(crand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "trayphone"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// EncodeDTLSCertificate writes cert (from NewDTLSCertificate) as PEM: the certificate, then its
// private key. The result is a secret.
func EncodeDTLSCertificate(cert tls.Certificate) ([]byte, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("dtls certificate: empty")
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...), nil
}

// DecodeDTLSCertificate reads what EncodeDTLSCertificate wrote. A certificate that is no longer
// valid at now, or that is not ECDSA, is refused (the caller makes a new one).
func DecodeDTLSCertificate(b []byte, now time.Time) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		return tls.Certificate{}, errors.New("dtls certificate: not an ECDSA key")
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
		}
	}
	if now.Before(cert.Leaf.NotBefore) || now.After(cert.Leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("dtls certificate: valid from %s to %s only", cert.Leaf.NotBefore.Format(time.DateOnly), cert.Leaf.NotAfter.Format(time.DateOnly))
	}
	return cert, nil
}

// DTLSConfig is what a DTLS-SRTP handshake needs.
type DTLSConfig struct {
	// Certificate is ours (NewDTLSCertificate); the far end checks it against our SDP.
	Certificate tls.Certificate
	// Client is true when we open the association (our a=setup is active), false when we wait
	// for the far end's ClientHello (passive).
	Client bool
	// VerifyPeer checks the far end's certificate (DER) against the fingerprints of its SDP;
	// an error fails the handshake with that error.
	VerifyPeer func(der []byte) error
	// Suites are the SRTP suites we accept, in our order of preference (SRTPSuites' names).
	Suites []string
	// Remote is where the far end's RTP goes; its RTCP is at the next port.
	Remote netip.AddrPort
	// Timeout bounds the handshake; 0 means DefaultDTLSTimeout.
	Timeout time.Duration
	// Log receives the rare messages; nil discards them. Keys are never logged.
	Log *slog.Logger
}

// dtlsProfiles maps our suite names to the use_srtp profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).
var dtlsProfiles = map[string]dtls.SRTPProtectionProfile{
	SuiteAES128SHA1_80: dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	SuiteAES128SHA1_32: dtls.SRTP_AES128_CM_HMAC_SHA1_32,
	SuiteAEADAES128GCM: dtls.SRTP_AEAD_AES_128_GCM,
}

// DTLS is the DTLS-SRTP keying of one media stream: an association on the RTP socket and, where
// the far end made one, on the RTCP socket. A Session it is given (SessionConfig.DTLS) passes it
// the DTLS records that arrive after the handshake (retransmissions, close_notify) and closes it.
type DTLS struct {
	keys *SRTPConfig
	rtp  *dtlsAssoc
	rtcp *dtlsAssoc // nil: no SRTCP keys, the stream runs without RTCP
}

// SRTP returns the keys exported from the handshake. Its RTCP keys are those of the RTCP
// socket's own association when there is one.
func (d *DTLS) SRTP() *SRTPConfig { return d.keys }

// RTCP reports whether the RTCP socket has keys of its own; without them the session must run
// without RTCP.
func (d *DTLS) RTCP() bool { return d.rtcp != nil }

// Close sends close_notify on each association and stops them. It does not close the sockets.
func (d *DTLS) Close() {
	if d == nil {
		return
	}
	d.rtp.close()
	if d.rtcp != nil {
		d.rtcp.close()
	}
}

// deliver hands a DTLS record that arrived on the RTP (rtcp false) or RTCP socket to its
// association; false when there is none to take it.
func (d *DTLS) deliver(rtcp bool, b []byte, from netip.AddrPort) bool {
	a := d.rtp
	if rtcp {
		a = d.rtcp
	}
	if a == nil {
		return false
	}
	return a.tr.deliver(b, from)
}

// HandshakeDTLS runs the DTLS-SRTP handshake on rtp and, if not nil, rtcp (RFC 5764 §4.1: one
// association per component when RTCP has its own port) and returns the keys. It blocks until
// the RTP socket's handshake is done, fails or times out, or ctx ends; the RTCP socket's may run
// rtcpDTLSGrace longer, and if it fails the result has no RTCP keys. While it runs it reads the
// sockets itself and drops what is not DTLS (the far end's first SRTP packets: we cannot decrypt
// them yet); when it returns it has stopped reading them. The sockets stay open.
func HandshakeDTLS(ctx context.Context, rtp, rtcp *net.UDPConn, cfg DTLSConfig) (*DTLS, error) {
	if cfg.VerifyPeer == nil || len(cfg.Certificate.Certificate) == 0 {
		return nil, errors.New("dtls: no certificate or no fingerprint check")
	}
	var profiles []dtls.SRTPProtectionProfile
	for _, s := range cfg.Suites {
		if p, ok := dtlsProfiles[s]; ok {
			profiles = append(profiles, p)
		}
	}
	if len(profiles) == 0 {
		return nil, errors.New("dtls: no SRTP suite to offer")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultDTLSTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	remote := unmapAddrPort(cfg.Remote)
	ra := startAssoc(ctx, rtp, remote, cfg, profiles)
	var ca *dtlsAssoc
	if rtcp != nil {
		ca = startAssoc(ctx, rtcp, rtcpAddr(remote), cfg, profiles)
	}
	fail := func(err error) (*DTLS, error) {
		ra.close()
		if ca != nil {
			ca.close()
		}
		return nil, err
	}
	start := time.Now()
	<-ra.done // its context is ctx: it ends by the timeout at the latest
	cfg.Log.Debug("dtls handshake on the rtp socket ended", "took", time.Since(start), "err", ra.err)
	if ra.err != nil {
		return fail(ra.err)
	}
	keys := ra.keys
	if ca != nil {
		t := time.NewTimer(rtcpDTLSGrace)
		select {
		case <-ca.done:
		case <-t.C:
			ca.cancel()
			<-ca.done
		}
		t.Stop()
		cfg.Log.Debug("dtls handshake on the rtcp socket ended", "took", time.Since(start), "err", ca.err)
		if ca.err != nil || ca.keys.Suite != keys.Suite {
			cfg.Log.Info("no DTLS-SRTP keys for RTCP: the call runs without RTCP", "err", ca.err)
			ca.close()
			ca = nil
		} else {
			keys.RTCPLocalKey, keys.RTCPRemoteKey = ca.keys.LocalKey, ca.keys.RemoteKey
		}
	}
	return &DTLS{keys: keys, rtp: ra, rtcp: ca}, nil
}

// dtlsAssoc is one DTLS association on one socket.
type dtlsAssoc struct {
	tr     *dtlsTransport
	conn   *dtls.Conn
	cancel context.CancelFunc
	done   chan struct{} // closed when the handshake has ended; then err or keys is set
	err    error
	keys   *SRTPConfig

	closeOnce sync.Once
	drained   chan struct{} // closed when the post-handshake reader has ended
}

// startAssoc starts the handshake on sock in a goroutine; a.done closes when it has ended (at
// the latest when ctx does) and the socket reader has stopped.
func startAssoc(ctx context.Context, sock *net.UDPConn, remote netip.AddrPort, cfg DTLSConfig, profiles []dtls.SRTPProtectionProfile) *dtlsAssoc {
	tr := newDTLSTransport(sock, remote)
	a := &dtlsAssoc{tr: tr, done: make(chan struct{}), drained: make(chan struct{})}
	var verifyErr atomic.Pointer[error]
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			err := errors.New("the far end presented no certificate")
			verifyErr.Store(&err)
			return err
		}
		if err := cfg.VerifyPeer(raw[0]); err != nil {
			verifyErr.Store(&err)
			return err
		}
		return nil
	}
	opts := []dtls.Option{
		dtls.WithCertificates(cfg.Certificate),
		dtls.WithSRTPProtectionProfiles(profiles...),
		// The far end's certificate is self-signed: it is trusted because its digest is the one
		// its SDP gave (RFC 5763 §5), which verify checks, on both sides.
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(verify),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		// A far end that offered may listen only once our answer reached it, while our
		// ClientHello may get there first: retransmit soon (then doubling), not after 1 s.
		dtls.WithFlightInterval(dtlsFlightInterval),
		dtls.WithLoggerFactory(pionLog{cfg.Log}),
	}
	ctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	var (
		conn *dtls.Conn
		err  error
	)
	addr := net.UDPAddrFromAddrPort(remote)
	if cfg.Client {
		copts := make([]dtls.ClientOption, 0, len(opts))
		for _, o := range opts {
			copts = append(copts, o)
		}
		conn, err = dtls.ClientWithOptions(tr, addr, copts...)
	} else {
		sopts := []dtls.ServerOption{dtls.WithClientAuth(dtls.RequireAnyClientCert)}
		for _, o := range opts {
			sopts = append(sopts, o)
		}
		conn, err = dtls.ServerWithOptions(tr, addr, sopts...)
	}
	go tr.pump() // reads sock until stopPump (below) or the socket closes
	go func() {  // ends when the handshake has ended
		defer close(a.done)
		if err == nil {
			a.conn = conn
			err = conn.HandshakeContext(ctx)
		}
		tr.stopPump()
		if err == nil {
			a.keys, err = exportKeys(conn, cfg.Client)
		}
		if err != nil {
			if p := verifyErr.Load(); p != nil {
				err = *p
			} else if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("no DTLS handshake with %s within %s", remote, cfg.Timeout)
			}
			a.err = fmt.Errorf("dtls: %w", err)
			return
		}
		tr.lock()
		go a.drain()
	}()
	return a
}

// exportKeys derives the SRTP master keys and salts from the finished handshake (RFC 5764
// §4.2).
func exportKeys(conn *dtls.Conn, client bool) (*SRTPConfig, error) {
	p, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, errors.New("the far end agreed on no SRTP profile (use_srtp)")
	}
	var suite string
	for s, q := range dtlsProfiles {
		if q == p {
			suite = s
		}
	}
	if suite == "" {
		return nil, fmt.Errorf("the far end chose SRTP profile %#04x, which we did not offer", uint16(p))
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return nil, errors.New("no connection state")
	}
	var c srtp.Config
	c.Profile = srtp.ProtectionProfile(p)
	if err := c.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		return nil, err
	}
	k := c.Keys
	return &SRTPConfig{
		Suite:     suite,
		LocalKey:  append(append([]byte(nil), k.LocalMasterKey...), k.LocalMasterSalt...),
		RemoteKey: append(append([]byte(nil), k.RemoteMasterKey...), k.RemoteMasterSalt...),
	}, nil
}

// drain reads the association after the handshake so that pion's reader never waits on us
// (the far end sends no application data). It returns when the association is closed.
func (a *dtlsAssoc) drain() {
	defer close(a.drained)
	buf := make([]byte, 1500)
	for {
		if _, err := a.conn.Read(buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || a.tr.isClosed() {
				return
			}
		}
	}
}

// close sends close_notify if the handshake is done and stops the association (bounded: pion's
// Close cancels its handshake and reader). The socket stays open.
func (a *dtlsAssoc) close() {
	a.closeOnce.Do(func() {
		a.cancel()
		<-a.done
		if a.conn != nil {
			_ = a.conn.Close()
		}
		a.tr.Close()
		if a.err == nil {
			<-a.drained
		}
	})
}

// dtlsDatagram is a DTLS record for the association and where it came from.
type dtlsDatagram struct {
	b    []byte
	from netip.AddrPort
}

// dtlsTransport is the net.PacketConn pion's DTLS connection runs on: it reads DTLS records
// from a channel (filled by pump during the handshake, by the Session's receive loops after it)
// and writes to the socket. During the handshake it answers whoever sent the last DTLS record
// (a far end behind a NAT, as RTP latching does); after it, only records from that address are
// taken.
type dtlsTransport struct {
	sock   *net.UDPConn
	remote atomic.Pointer[netip.AddrPort]
	locked atomic.Bool // the handshake is done: the remote no longer moves
	in     chan dtlsDatagram
	rd     *deadline.Deadline

	closeOnce sync.Once
	closed    chan struct{}

	stopping atomic.Bool
	pumpDone chan struct{}
}

func newDTLSTransport(sock *net.UDPConn, remote netip.AddrPort) *dtlsTransport {
	t := &dtlsTransport{sock: sock, in: make(chan dtlsDatagram, 32), rd: deadline.New(),
		closed: make(chan struct{}), pumpDone: make(chan struct{})}
	t.remote.Store(&remote)
	return t
}

// pump reads the socket during the handshake and passes on its DTLS records. It returns when
// stopPump asks (it unblocks the read with a deadline) or the socket is closed.
func (t *dtlsTransport) pump() {
	defer close(t.pumpDone)
	buf := make([]byte, recvBufferSize)
	for !t.stopping.Load() {
		n, from, err := t.sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				t.Close() // the call ended: the handshake fails at once
				return
			}
			continue // a deadline set by stopPump, or an ICMP error: check stopping again
		}
		if isDTLS(buf[:n]) {
			t.deliver(buf[:n], from)
		}
	}
}

// stopPump stops pump and waits for it, leaving the socket without a deadline for whoever reads
// it next (the Session).
func (t *dtlsTransport) stopPump() {
	t.stopping.Store(true)
	_ = t.sock.SetReadDeadline(time.Unix(1, 0))
	<-t.pumpDone
	_ = t.sock.SetReadDeadline(time.Time{})
}

// lock fixes the remote once the handshake is done.
func (t *dtlsTransport) lock() { t.locked.Store(true) }

// deliver queues a copy of a DTLS record; it never blocks (a full queue drops it, as the
// network may).
func (t *dtlsTransport) deliver(b []byte, from netip.AddrPort) bool {
	from = unmapAddrPort(from)
	if t.locked.Load() {
		if from != *t.remote.Load() {
			return true // a stranger's: taken and dropped
		}
	} else {
		t.remote.Store(&from)
	}
	select {
	case t.in <- dtlsDatagram{b: append([]byte(nil), b...), from: from}:
	default:
	}
	return true
}

func (t *dtlsTransport) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

// ReadFrom returns the next DTLS record.
func (t *dtlsTransport) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-t.in:
		return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
	case <-t.closed:
		return 0, nil, net.ErrClosed
	case <-t.rd.Done():
		return 0, nil, errDTLSTimeout
	}
}

// WriteTo sends to the far end's current address, whatever addr pion names.
func (t *dtlsTransport) WriteTo(b []byte, _ net.Addr) (int, error) {
	if t.isClosed() {
		return 0, net.ErrClosed
	}
	return t.sock.WriteToUDPAddrPort(b, *t.remote.Load())
}

// Close marks the transport closed; the socket stays open (the Session owns it).
func (t *dtlsTransport) Close() error {
	t.closeOnce.Do(func() { close(t.closed) })
	return nil
}

func (t *dtlsTransport) LocalAddr() net.Addr                { return t.sock.LocalAddr() }
func (t *dtlsTransport) SetDeadline(d time.Time) error      { t.rd.Set(d); return nil }
func (t *dtlsTransport) SetReadDeadline(d time.Time) error  { t.rd.Set(d); return nil }
func (t *dtlsTransport) SetWriteDeadline(_ time.Time) error { return nil }

// errDTLSTimeout is a read deadline passing, as a net.Error.
var errDTLSTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }

// pionLog sends pion/dtls's log to slog at debug level (its errors at info): it logs no keys.
type pionLog struct{ log *slog.Logger }

func (p pionLog) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{p.log.With("component", "pion-"+scope)}
}

type pionLogger struct{ log *slog.Logger }

func (pionLogger) Trace(string)                {}
func (pionLogger) Tracef(string, ...any)       {}
func (l pionLogger) Debug(m string)            { l.log.Debug(m) }
func (l pionLogger) Debugf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l pionLogger) Info(m string)             { l.log.Debug(m) }
func (l pionLogger) Infof(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l pionLogger) Warn(m string)             { l.log.Debug(m) }
func (l pionLogger) Warnf(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l pionLogger) Error(m string)            { l.log.Info(m) }
func (l pionLogger) Errorf(f string, a ...any) { l.log.Info(fmt.Sprintf(f, a...)) }
