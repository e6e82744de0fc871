package media

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// RFC 3711 Appendix B.3 (https://www.rfc-editor.org/rfc/rfc3711#appendix-B.3): a master key and
// salt and the SRTP session keys they derive (key derivation rate 0, index 0).
const (
	rfc3711MasterKey  = "E1F97A0D3E018BE0D64FA32C06DE4139"
	rfc3711MasterSalt = "0EC675AD498AFEEBB6960B3AABE6"
	rfc3711CipherKey  = "C61E7A93744F39EE10734AFE3FF7A087"
	rfc3711CipherSalt = "30CBBC08863D8C85D49DB34A9AE1"
	rfc3711AuthKey    = "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfc3711Protect is SRTP by the book, written here independently of pion: AES-CM (§4.1.1) with
// IV = (salt·2^16) XOR (SSRC·2^64) XOR (index·2^16), then HMAC-SHA1 (§4.2) over the header, the
// ciphertext and the ROC, cut to tagLen bytes.
func rfc3711Protect(t *testing.T, key, salt, auth, pkt []byte, roc uint32, tagLen int) []byte {
	t.Helper()
	ssrc := binary.BigEndian.Uint32(pkt[8:12])
	seq := binary.BigEndian.Uint16(pkt[2:4])
	index := uint64(roc)<<16 | uint64(seq)
	iv := make([]byte, 16)
	copy(iv, salt) // the 112-bit salt, shifted left by 16 bits
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], ssrc)
	for i := range 4 {
		iv[4+i] ^= s[i]
	}
	var x [8]byte
	binary.BigEndian.PutUint64(x[:], index) // bytes 8-13 of the IV: index·2^16
	for i := range 8 {
		iv[6+i] ^= x[i]
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), pkt...)
	cipher.NewCTR(block, iv).XORKeyStream(out[12:], pkt[12:])
	mac := hmac.New(sha1.New, auth)
	mac.Write(out)
	var r [4]byte
	binary.BigEndian.PutUint32(r[:], roc)
	mac.Write(r[:])
	return append(out, mac.Sum(nil)[:tagLen]...)
}

// TestSRTPRFC3711Vectors: a session keyed with RFC 3711 B.3's master key and salt (as an SDES
// inline key is: key then salt) protects a packet exactly as the RFC's derived session keys and
// the RFC's transforms do, for both HMAC tag lengths, and takes such a packet back.
func TestSRTPRFC3711Vectors(t *testing.T) {
	master := append(unhex(t, rfc3711MasterKey), unhex(t, rfc3711MasterSalt)...)
	key, salt, auth := unhex(t, rfc3711CipherKey), unhex(t, rfc3711CipherSalt), unhex(t, rfc3711AuthKey)
	for _, tc := range []struct {
		suite  string
		tagLen int
	}{{SuiteAES128SHA1_80, 10}, {SuiteAES128SHA1_32, 4}} {
		t.Run(tc.suite, func(t *testing.T) {
			x, err := newSRTPContexts(&SRTPConfig{Suite: tc.suite, LocalKey: master, RemoteKey: master})
			if err != nil {
				t.Fatal(err)
			}
			// The first packets of a stream (index 0, ROC 0), SSRC 0xdecafbad, 160 bytes of μ-law.
			for seq := range uint16(3) {
				pkt := unhex(t, "80000000 00000000 decafbad")
				binary.BigEndian.PutUint16(pkt[2:], seq)
				binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
				pkt = append(pkt, bytes.Repeat([]byte{0xff, 0x7e, 0x01, 0x80}, 40)...)
				want := rfc3711Protect(t, key, salt, auth, pkt, 0, tc.tagLen)
				got, err := x.sendRTP.EncryptRTP(nil, pkt, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("seq %d:\ngot  %x\nwant %x", seq, got, want)
				}
				back, err := x.recvRTP.DecryptRTP(nil, want, nil)
				if err != nil || !bytes.Equal(back, pkt) {
					t.Fatalf("seq %d: decrypting the RFC's packet: %x, %v", seq, back, err)
				}
				if x.overhead != tc.tagLen {
					t.Errorf("overhead %d, want %d", x.overhead, tc.tagLen)
				}
			}
		})
	}
}
