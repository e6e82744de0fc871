package media

import (
	"bytes"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// srtpKeys returns the two sides' SRTP configs for suite with fresh keys.
func srtpKeys(t testing.TB, suite string) (a, b *SRTPConfig) {
	t.Helper()
	ka, err := NewSRTPKey(suite)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := NewSRTPKey(suite)
	if err != nil {
		t.Fatal(err)
	}
	return &SRTPConfig{Suite: suite, LocalKey: ka, RemoteKey: kb}, &SRTPConfig{Suite: suite, LocalKey: kb, RemoteKey: ka}
}

// srtpTap relays datagrams between a and b and keeps what a sends (the wire as a listener on
// the path sees it). It runs until its socket is closed.
type srtpTap struct {
	conn  *net.UDPConn
	a, b  netip.AddrPort
	mu    sync.Mutex
	fromA [][]byte
	done  chan struct{}
}

func newSRTPTap(t *testing.T, a, b netip.AddrPort) *srtpTap {
	tp := &srtpTap{conn: sessListen(t), a: a, b: b, done: make(chan struct{})}
	go func() { // returns when the socket is closed
		defer close(tp.done)
		buf := make([]byte, 2048)
		for {
			n, from, err := tp.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			from = unmapAddrPort(from)
			switch from {
			case tp.a:
				tp.mu.Lock()
				tp.fromA = append(tp.fromA, bytes.Clone(buf[:n]))
				tp.mu.Unlock()
				tp.conn.WriteToUDPAddrPort(buf[:n], tp.b)
			case tp.b:
				tp.conn.WriteToUDPAddrPort(buf[:n], tp.a)
			}
		}
	}()
	t.Cleanup(func() { tp.conn.Close(); <-tp.done })
	return tp
}

// wirePayloads returns the payloads (after the 12-byte header) of the RTP packets a sent.
func (tp *srtpTap) wirePayloads() [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out [][]byte
	for _, p := range tp.fromA {
		if len(p) > 12 && p[0]>>6 == 2 {
			out = append(out, p[12:])
		}
	}
	return out
}

// byteEntropy returns the Shannon entropy of b in bits per byte: 8 for random bytes, far less for
// G.711 audio (a tone uses a handful of code words).
func byteEntropy(b []byte) float64 {
	var n [256]int
	for _, c := range b {
		n[c]++
	}
	var h float64
	for _, k := range n {
		if k > 0 {
			p := float64(k) / float64(len(b))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// wireTone decodes the first 160 bytes of each payload as G.711 μ-law, what a listener on the
// path would play, and returns the power at freq relative to the total (0-1).
func wireTone(payloads [][]byte, freq float64) float64 {
	var x []int16
	for _, p := range payloads {
		for _, c := range p[:min(len(p), 160)] {
			x = append(x, DecodeULaw(c))
		}
	}
	if len(x) == 0 {
		return 0
	}
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	e /= float64(len(x))
	if e == 0 {
		return 0
	}
	// A pure sine of power e has Goertzel power e/2 at its frequency (normalised as sessGoertzel).
	return sessGoertzel(x, freq, 8000) * 2 / e
}

// TestSessionSRTP runs an encrypted call between two sessions through a tap on the path, for each
// suite: each side must play the other's tone, and what the tap saw must not be audio (high byte
// entropy, no tone when decoded as G.711). The plain case is the control: there the same checks
// must see the tone, so they can fail.
func TestSessionSRTP(t *testing.T) {
	for _, suite := range append([]string{"plain"}, SRTPSuites...) {
		t.Run(suite, func(t *testing.T) {
			sessCheckNoLeak(t)
			connA, connB := sessListen(t), sessListen(t)
			tap := newSRTPTap(t, sessAddr(connA), sessAddr(connB))
			var ca, cb *SRTPConfig
			if suite != "plain" {
				ca, cb = srtpKeys(t, suite)
			}
			streamA, streamB := newSessToneStream(1000), newSessToneStream(1400)
			a := sessNew(t, SessionConfig{Conn: connA, Remote: sessAddr(tap.conn), Stream: streamA, SRTP: ca, NoVAD: true})
			b := sessNew(t, SessionConfig{Conn: connB, Remote: sessAddr(tap.conn), Stream: streamB, SRTP: cb, NoVAD: true})
			a.Start()
			b.Start()
			time.Sleep(1500 * time.Millisecond)
			_, heardByB := streamB.played(time.Second)
			_, heardByA := streamA.played(time.Second)
			sessCheckTone(t, "B (from A)", heardByB, 1000)
			sessCheckTone(t, "A (from B)", heardByA, 1400)

			payloads := tap.wirePayloads()
			if len(payloads) < 50 {
				t.Fatalf("the tap saw %d RTP packets from A, want at least 50", len(payloads))
			}
			h := byteEntropy(bytes.Join(payloads, nil))
			tone := wireTone(payloads, 1000)
			t.Logf("%s: %d packets on the wire, payload entropy %.2f bits/byte, 1000 Hz share when played as PCMU %.3f",
				suite, len(payloads), h, tone)
			if suite == "plain" {
				if h > 6 || tone < 0.5 {
					t.Fatalf("plain RTP: entropy %.2f, tone share %.3f: the wire check cannot see audio", h, tone)
				}
				return
			}
			if h < 7.9 {
				t.Errorf("payload entropy %.2f bits/byte, want > 7.9 (encrypted)", h)
			}
			if tone > 0.01 {
				t.Errorf("the wire decodes to the tone: 1000 Hz share %.3f, want < 0.01", tone)
			}
			if n := a.Unauthentic() + b.Unauthentic(); n != 0 {
				t.Errorf("%d packets failed authentication, want 0", n)
			}
		})
	}
}

// TestSessionSRTPRejectsForeign: in an encrypted session, plain RTP and SRTP under another key
// are dropped before anything reads them: not played, no latching, even while latching is open.
func TestSessionSRTPRejectsForeign(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	ca, _ := srtpKeys(t, SuiteAES128SHA1_80)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}, SRTP: ca})
	_, other := srtpKeys(t, SuiteAES128SHA1_80)
	wrong, err := newSRTPContexts(other)
	if err != nil {
		t.Fatal(err)
	}
	stranger := netip.MustParseAddrPort("127.0.0.2:40004")
	now := time.Unix(1000, 0)
	for i := range 20 {
		plain := sessRTP(0, uint16(i), uint32(i)*160, 0x1234, make([]byte, 160))
		s.handlePacket(plain, stranger, now)
		enc, err := wrong.sendRTP.EncryptRTP(nil, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.handlePacket(enc, stranger, now)
	}
	if got := s.Unauthentic(); got != 40 {
		t.Errorf("unauthentic packets: got %d, want 40", got)
	}
	if got := s.Stats().PacketsReceived; got != 0 {
		t.Errorf("packets taken: got %d, want 0", got)
	}
	if got, want := s.Remote(), sessAddr(peer); got != want {
		t.Errorf("remote: got %v, want %v (moved by unauthenticated packets)", got, want)
	}
}

// TestSessionSRTPAllocs: encryption keeps the per-packet paths free of allocations.
func TestSessionSRTPAllocs(t *testing.T) {
	conn, peer := sessListen(t), sessListen(t)
	defer peer.Close()
	ca, cb := srtpKeys(t, SuiteAES128SHA1_80)
	s := sessNew(t, SessionConfig{Conn: conn, Remote: sessAddr(peer), Stream: sessSilentStream{}, SRTP: ca})
	ts := uint32(0)
	if a := testing.AllocsPerRun(500, func() {
		s.snd.send(ts)
		ts += 160
	}); a != 0 {
		t.Errorf("build, encrypt and send one packet: got %v allocs, want 0", a)
	}
	far, err := newSRTPContexts(cb)
	if err != nil {
		t.Fatal(err)
	}
	// The far end's packets are made first: only the receive path is counted.
	pkts := make([][]byte, 600)
	for i := range pkts {
		plain := sessRTP(0, uint16(i), uint32(i)*160, 0x99, make([]byte, 160))
		if pkts[i], err = far.sendRTP.EncryptRTP(nil, plain, nil); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Unix(1000, 0)
	i := 0
	if a := testing.AllocsPerRun(500, func() {
		s.handlePacket(pkts[i], sessAddr(peer), now)
		i++
		now = now.Add(20 * time.Millisecond)
	}); a != 0 {
		t.Errorf("receive, decrypt and insert one packet: got %v allocs, want 0", a)
	}
	if n := s.Unauthentic(); n != 0 {
		t.Errorf("%d packets failed authentication, want 0", n)
	}
}

func TestSRTPKeyLen(t *testing.T) {
	for suite, want := range map[string]int{SuiteAES128SHA1_80: 30, SuiteAES128SHA1_32: 30, SuiteAEADAES128GCM: 28} {
		if got, ok := SRTPKeyLen(suite); !ok || got != want {
			t.Errorf("SRTPKeyLen(%s) = %d, %v; want %d", suite, got, ok, want)
		}
	}
	if _, ok := SRTPKeyLen("F8_128_HMAC_SHA1_80"); ok {
		t.Error("SRTPKeyLen(F8_128_HMAC_SHA1_80) is supported, want not")
	}
	k1, _ := NewSRTPKey(SuiteAES128SHA1_80)
	k2, _ := NewSRTPKey(SuiteAES128SHA1_80)
	if bytes.Equal(k1, k2) {
		t.Error("two keys are equal")
	}
	c := &SRTPConfig{Suite: SuiteAES128SHA1_80, LocalKey: k1, RemoteKey: k2}
	if s := c.String(); bytes.Contains([]byte(s), k1) {
		t.Errorf("String shows the key: %q", s)
	}
}
