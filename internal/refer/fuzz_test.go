package refer

import (
	"testing"
)

// The fuzz targets check that no input panics, that what parses is consistent, and that
// what FormatReferTo writes for a parsed Replaces reads back the same.

func FuzzParseReferTo(f *testing.F) {
	for _, s := range []string{"sip:bob@biloxi.example.net", "<sips:bob@example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
		`"Carol" <sip:carol@example.com>;x=1`, "mailto:user@host?subject=help", "<sip:a@b?x=%zz>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := ParseReferTo(s)
		if err != nil {
			return
		}
		if rt.Scheme == "" || rt.URI == "" {
			t.Fatalf("ParseReferTo(%q) = %+v without error", s, rt)
		}
		if rt.Replaces != nil {
			back, err := ParseReferTo(FormatReferTo(rt.URI, rt.Replaces))
			if err != nil || back.Replaces == nil || *back.Replaces != *rt.Replaces {
				t.Fatalf("Replaces %+v does not round-trip: %+v, %v", *rt.Replaces, back, err)
			}
		}
	})
}

func FuzzParseReplaces(f *testing.F) {
	for _, s := range []string{"98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff", "12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only", "a;to-tag=;from-tag=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReplaces(s)
		if err != nil {
			return
		}
		back, err := ParseReplaces(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseReplaces(%q) = %+v; its String %q reads back as %+v, %v", s, r, r.String(), back, err)
		}
	})
}

func FuzzParseSipfrag(f *testing.F) {
	for _, s := range []string{"SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\n", "SIP/2.0 7"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseSipfrag(b)
		if err != nil {
			return
		}
		if fr.Code < 100 || fr.Code > 699 {
			t.Fatalf("ParseSipfrag(%q) code %d", b, fr.Code)
		}
		back, err := ParseSipfrag(FormatSipfrag(fr.Code, fr.Reason))
		if err != nil || back != fr {
			t.Fatalf("%+v does not round-trip: %+v, %v", fr, back, err)
		}
	})
}
