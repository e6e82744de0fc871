package media

import (
	"testing"

	"github.com/pion/stun/v3"
)

// TestIsSTUN: binding requests, responses and indications are STUN; RTP, RTCP and cut or
// padded STUN are not.
func TestIsSTUN(t *testing.T) {
	req, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	ind, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication))
	rtpPkt := append([]byte{0x80, 0x00, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4}, make([]byte, 160)...)
	rtcpRR := []byte{0x80, 201, 0, 1, 1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"binding request", req.Raw, true},
		{"indication", ind.Raw, true},
		{"rtp", rtpPkt, false},
		{"rtcp", rtcpRR, false},
		{"cut", req.Raw[:len(req.Raw)-4], false},
		{"padded", append(append([]byte(nil), req.Raw...), 0, 0, 0, 0, 0), false},
		{"empty", nil, false},
	} {
		if got := isSTUN(tc.b); got != tc.want {
			t.Errorf("%s: isSTUN = %v, want %v", tc.name, got, tc.want)
		}
	}
}
