package sdp

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"strings"
	"testing"
)

// abcSHA256 is SHA-256("abc") (FIPS 180-2 appendix B.1), written as an a=fingerprint value.
const abcSHA256 = "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"

func TestParseFingerprint(t *testing.T) {
	t.Parallel()
	abc := sha256.Sum256([]byte("abc"))
	for _, tc := range []struct {
		in      string
		hash    string
		value   []byte
		wantErr string
	}{
		{in: "sha-256 " + abcSHA256, hash: "sha-256", value: abc[:]},
		// baresip writes the name in upper case; RFC 8122 §5 lets digits be either case.
		{in: "SHA-256 " + strings.ToLower(abcSHA256), hash: "sha-256", value: abc[:]},
		{in: "sha-256\t" + abcSHA256 + " ", hash: "sha-256", value: abc[:]},
		{in: "sha-512 " + strings.Repeat("00:", 63) + "FF", hash: "sha-512", value: append(make([]byte, 63), 0xff)},
		// RFC 5763 §5's example: SHA-1 is refused.
		{in: "SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB", wantErr: "hash function"},
		{in: "md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B", wantErr: "hash function"},
		{in: "sha-256 " + abcSHA256[:len(abcSHA256)-3], wantErr: "31 bytes"},
		{in: "sha-256 " + abcSHA256 + ":00", wantErr: "33 bytes"},
		{in: "sha-256 " + strings.Replace(abcSHA256, "BA", "ZZ", 1), wantErr: "hex"},
		{in: "sha-256 " + strings.Replace(abcSHA256, "BA:", "B:A", 1), wantErr: "hex"},
		{in: "sha-256", wantErr: "fields"},
		{in: "sha-256 " + abcSHA256 + " extra", wantErr: "fields"},
		{in: "", wantErr: "fields"},
	} {
		fp, err := ParseFingerprint(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseFingerprint(%q) error = %v, want one about %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFingerprint(%q): %v", tc.in, err)
			continue
		}
		if fp.Hash != tc.hash || !bytes.Equal(fp.Value, tc.value) {
			t.Errorf("ParseFingerprint(%q) = %s, want %s %x", tc.in, fp, tc.hash, tc.value)
		}
	}
	fp := Fingerprint{Hash: "sha-256", Value: abc[:]}
	if got, want := fp.String(), "sha-256 "+abcSHA256; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSetupRoles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Setup
	}{{"active", SetupActive}, {"PASSIVE", SetupPassive}, {" actpass", SetupActPass}, {"holdconn", SetupHoldConn}, {"open", SetupUnknown}, {"", SetupUnknown}} {
		got, err := ParseSetup(tc.in)
		if got != tc.want || (err == nil) != (tc.want != SetupUnknown) {
			t.Errorf("ParseSetup(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	// RFC 5763 §5: the answerer is active for actpass (SHOULD) and for passive, passive for
	// active; holdconn has no association.
	for _, tc := range []struct {
		offer Setup
		want  Setup
		ok    bool
	}{{SetupActPass, SetupActive, true}, {SetupPassive, SetupActive, true}, {SetupActive, SetupPassive, true},
		{SetupUnknown, SetupActive, true}, {SetupHoldConn, SetupUnknown, false}} {
		if got, ok := AnswerSetup(tc.offer); got != tc.want || ok != tc.ok {
			t.Errorf("AnswerSetup(%v) = %v, %v; want %v, %v", tc.offer, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		answer     Setup
		client, ok bool
	}{{SetupPassive, true, true}, {SetupActive, false, true}, {SetupUnknown, false, true},
		{SetupActPass, false, false}, {SetupHoldConn, false, false}} {
		if client, ok := OffererIsClient(tc.answer); client != tc.client || ok != tc.ok {
			t.Errorf("OffererIsClient(%v) = %v, %v; want %v, %v", tc.answer, client, ok, tc.client, tc.ok)
		}
	}
}

// baresipDTLSOffer is what baresip 1.0 with mediaenc=dtls_srtp offers: the fingerprint and setup
// at session level, UDP/TLS/RTP/SAVPF.
const baresipDTLSOffer = `
v=0
o=- 2056283938 2785427425 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
a=tool:baresip 1.0.0
a=setup:actpass
a=fingerprint:SHA-256 ` + abcSHA256 + `
m=audio 10206 UDP/TLS/RTP/SAVPF 0 101
b=AS:80
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=ssrc:1958612452 cname:2b4b3f0e
a=ptime:20
`

func TestParseDTLSOffer(t *testing.T) {
	t.Parallel()
	s, err := Parse(crlf(baresipDTLSOffer))
	if err != nil {
		t.Fatal(err)
	}
	a := s.Audio
	if !DTLSRTP(a.Proto) || !SecureRTP(a.Proto) || a.Setup != SetupActPass || len(a.Fingerprints) != 1 ||
		a.Fingerprints[0].String() != "sha-256 "+abcSHA256 {
		t.Fatalf("parsed %s, setup %v, fingerprints %v; want UDP/TLS/RTP/SAVPF, actpass, the session's sha-256", a.Proto, a.Setup, a.Fingerprints)
	}
	// The stream's own attributes win over the session's.
	media := strings.Replace(baresipDTLSOffer, "a=ptime:20", "a=ptime:20\na=setup:passive\na=fingerprint:sha-512 "+strings.Repeat("AB:", 63)+"AB", 1)
	s, err = Parse(crlf(media))
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Audio; a.Setup != SetupPassive || len(a.Fingerprints) != 1 || a.Fingerprints[0].Hash != "sha-512" {
		t.Errorf("media-level attributes: setup %v, fingerprints %v; want passive, sha-512", a.Setup, a.Fingerprints)
	}
	// A fingerprint that does not parse is left out, the rest of the offer stays usable.
	bad := strings.Replace(baresipDTLSOffer, "SHA-256 "+abcSHA256, "SHA-256 00:11", 1)
	s, err = Parse(crlf(bad))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Audio.Fingerprints) != 0 {
		t.Errorf("bad fingerprint kept: %v", s.Audio.Fingerprints)
	}
}

// TestOfferDTLS: our fingerprint comes back from Parse unchanged, over UDP/TLS/RTP/SAVP (secure,
// no SDES keys), RTP/SAVP (secure, with keys) or RTP/AVP (best effort); setup is actpass.
func TestOfferDTLS(t *testing.T) {
	t.Parallel()
	abc := sha256.Sum256([]byte("abc"))
	fp := &Fingerprint{Hash: "sha-256", Value: abc[:]}
	keys := []Crypto{{Tag: 1, Suite: "AES_CM_128_HMAC_SHA1_80", Key: bytes.Repeat([]byte{7}, 30)}}
	for _, tc := range []struct {
		secure bool
		crypto []Crypto
		proto  string
	}{{true, nil, "UDP/TLS/RTP/SAVP"}, {true, keys, "RTP/SAVP"}, {false, keys, "RTP/AVP"}, {false, nil, "RTP/AVP"}} {
		b, err := Offer(OfferParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000,
			Formats: ours, Crypto: tc.crypto, Fingerprint: fp, Secure: tc.secure})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("a=fingerprint:sha-256 "+abcSHA256+"\r\n")) || !bytes.Contains(b, []byte("a=setup:actpass\r\n")) {
			t.Errorf("offer lacks the fingerprint or setup:\n%s", b)
		}
		s, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if a := s.Audio; a.Proto != tc.proto || a.Setup != SetupActPass || len(a.Fingerprints) != 1 || !bytes.Equal(a.Fingerprints[0].Value, abc[:]) || len(a.Crypto) != len(tc.crypto) {
			t.Errorf("secure=%v: parsed back %s, %v, %v, %d keys; want %s, actpass, our fingerprint", tc.secure, a.Proto, a.Setup, a.Fingerprints, len(a.Crypto), tc.proto)
		}
	}
	if _, err := Offer(OfferParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000,
		Formats: ours, Fingerprint: &Fingerprint{Hash: "sha-256", Value: abc[:5]}}); err == nil {
		t.Error("a fingerprint of 5 bytes was written")
	}
}

// TestAnswerDTLS: baresip's offer is answered over its own transport with our fingerprint and
// the role we take; without a fingerprint or keys a secure offer is refused.
func TestAnswerDTLS(t *testing.T) {
	t.Parallel()
	offer, err := Parse(crlf(baresipDTLSOffer))
	if err != nil {
		t.Fatal(err)
	}
	abc := sha256.Sum256([]byte("abc"))
	local := AnswerParams{SessionID: 9, Version: 1, Addr: netip.MustParseAddr("192.0.2.50"), Port: 30000, Formats: ours,
		Fingerprint: &Fingerprint{Hash: "sha-256", Value: abc[:]}, Setup: SetupActive}
	b, _, err := Answer(offer, local)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if a := ans.Audio; a.Proto != "UDP/TLS/RTP/SAVPF" || a.Setup != SetupActive || len(a.Fingerprints) != 1 || len(a.Crypto) != 0 {
		t.Errorf("answer: %s, setup %v, fingerprints %v, %d keys; want UDP/TLS/RTP/SAVPF, active, ours, none\n%s", a.Proto, a.Setup, a.Fingerprints, len(a.Crypto), b)
	}
	local.Setup = SetupActPass
	if _, _, err := Answer(offer, local); err == nil {
		t.Error("an answer with setup:actpass was written (RFC 5763 §5 forbids it)")
	}
	local.Fingerprint = nil
	if _, _, err := Answer(offer, local); err == nil {
		t.Error("a DTLS-SRTP offer was answered without a fingerprint or keys")
	}
}

func FuzzParseFingerprint(f *testing.F) {
	for _, s := range []string{
		"sha-256 " + abcSHA256,
		"SHA-256 " + strings.ToLower(abcSHA256),
		"SHA-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
		"sha-512 " + strings.Repeat("00:", 63) + "FF",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fp, err := ParseFingerprint(v)
		if err != nil {
			return
		}
		if n, ok := fingerprintHashes[fp.Hash]; !ok || len(fp.Value) != n {
			t.Fatalf("ParseFingerprint(%q) accepted %s with %d bytes", v, fp.Hash, len(fp.Value))
		}
		back, err := ParseFingerprint(fp.String())
		if err != nil || back.Hash != fp.Hash || !bytes.Equal(back.Value, fp.Value) {
			t.Fatalf("ParseFingerprint(%q) = %s; written back it parses as %s, %v", v, fp, back, err)
		}
		if s, err := ParseSetup(v); err == nil && s == SetupUnknown {
			t.Fatalf("ParseSetup(%q) accepted unknown", v)
		}
	})
}
