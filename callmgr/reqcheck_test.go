package callmgr

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestCheckRequest(t *testing.T) {
	const base = "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n" +
		"To: <sip:b@127.0.0.1>\r\nCall-ID: c1\r\nMax-Forwards: 70\r\n"
	for _, tc := range []struct {
		name, start, extra string
		want               int
		unsupported        string
	}{
		{"plain OPTIONS", "OPTIONS sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 OPTIONS\r\n", 0, ""},
		{"tel URI", "INVITE tel:+15551234 SIP/2.0", "CSeq: 1 INVITE\r\n", 0, ""},
		{"unknown scheme", "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0", "CSeq: 1 OPTIONS\r\n", 416, ""},
		{"CSeq method differs", "OPTIONS sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 INVITE\r\n", 400, ""},
		{"CSeq method in other case", "OPTIONS sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 options\r\n", 0, ""},
		{"two Call-IDs", "OPTIONS sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 OPTIONS\r\nCall-ID: c2\r\n", 400, ""},
		{"two Content-Lengths", "OPTIONS sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n", 400, ""},
		{"Require", "INVITE sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 INVITE\r\nRequire: 100rel, foo\r\n", 420, "100rel, foo"},
		{"Require: replaces", "INVITE sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 INVITE\r\nRequire: replaces\r\n", 0, ""},
		{"Require: replaces and another", "INVITE sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 INVITE\r\nRequire: Replaces, foo\r\n", 420, "foo"},
		{"Require: norefersub", "REFER sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 REFER\r\nRequire: norefersub\r\n", 0, ""},
		{"Require on CANCEL", "CANCEL sip:b@127.0.0.1 SIP/2.0", "CSeq: 1 CANCEL\r\nRequire: foo\r\n", 0, ""},
		{"ACK is never answered", "ACK nobody:x SIP/2.0", "CSeq: 1 INVITE\r\n", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.start + "\r\n" + base + tc.extra
			raw += "Content-Length: 0\r\n"
			msg, err := sip.ParseMessage([]byte(raw + "\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			res := checkRequest(msg.(*sip.Request))
			got := 0
			if res != nil {
				got = res.StatusCode
			}
			if got != tc.want {
				t.Fatalf("got %d, want %d (%v)", got, tc.want, res)
			}
			if tc.unsupported != "" {
				if h := res.GetHeader("Unsupported"); h == nil || h.Value() != tc.unsupported {
					t.Errorf("Unsupported: got %v, want %q", h, tc.unsupported)
				}
			}
		})
	}
}
