package refer

import (
	"strings"
	"testing"
)

// Header values in the forms of the RFCs' examples: RFC 3515 §2.1 (Refer-To in its forms and
// schemes), RFC 3891 §6.1 and §3 (Replaces, alone and escaped into a Refer-To) and RFC 5589 §7
// (attended transfer's Refer-To).
func TestParseReferTo(t *testing.T) {
	tests := []struct {
		in       string
		scheme   string
		uri      string
		replaces *Replaces
		headers  map[string]string
	}{
		{in: "sip:bob@biloxi.example.net", scheme: "sip", uri: "sip:bob@biloxi.example.net"},
		{in: "mailto:user@host?subject=help", scheme: "mailto", uri: "mailto:user@host?subject=help"},
		{in: "http://www.example.com/~user/", scheme: "http", uri: "http://www.example.com/~user/"},
		{in: "<sip:carol@cleveland.example.org;method=SUBSCRIBE>", scheme: "sip", uri: "sip:carol@cleveland.example.org;method=SUBSCRIBE"},
		{in: `"Carol" <sips:carol@chicago.example.com>;x=1`, scheme: "sips", uri: "sips:carol@chicago.example.com"},
		{in: "sip:dave@192.0.2.4:5070;transport=tcp", scheme: "sip", uri: "sip:dave@192.0.2.4:5070"},
		{in: "<sips:bob@example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
			scheme: "sips", uri: "sips:bob@example.org",
			replaces: &Replaces{CallID: "12345@192.168.118.3", ToTag: "12345", FromTag: "5FFE-3994"}},
		{in: "<sips:Target@chicago.example.com?Replaces=090459243588173445%3Bto-tag%3D7553452%3Bfrom-tag%3D31431>",
			scheme: "sips", uri: "sips:Target@chicago.example.com",
			replaces: &Replaces{CallID: "090459243588173445", ToTag: "7553452", FromTag: "31431"}},
		{in: "<sip:carol@example.com?Replaces=abc%3Bfrom-tag%3Dx%3Bto-tag%3Dy%3Bearly-only&Require=replaces>",
			scheme: "sip", uri: "sip:carol@example.com",
			replaces: &Replaces{CallID: "abc", ToTag: "y", FromTag: "x", EarlyOnly: true},
			headers:  map[string]string{"Require": "replaces"}},
		{in: "tel:+15550100", scheme: "tel", uri: "tel:+15550100"},
		{in: `"Front <desk> \"A\"" <sip:desk@192.0.2.9>`, scheme: "sip", uri: "sip:desk@192.0.2.9"},
	}
	for _, tt := range tests {
		rt, err := ParseReferTo(tt.in)
		if err != nil {
			t.Errorf("ParseReferTo(%q): %v", tt.in, err)
			continue
		}
		if rt.Scheme != tt.scheme || rt.URI != tt.uri {
			t.Errorf("ParseReferTo(%q) = scheme %q URI %q, want %q %q", tt.in, rt.Scheme, rt.URI, tt.scheme, tt.uri)
		}
		switch {
		case tt.replaces == nil && rt.Replaces != nil:
			t.Errorf("ParseReferTo(%q): Replaces %+v, want none", tt.in, *rt.Replaces)
		case tt.replaces != nil && (rt.Replaces == nil || *rt.Replaces != *tt.replaces):
			t.Errorf("ParseReferTo(%q): Replaces %+v, want %+v", tt.in, rt.Replaces, *tt.replaces)
		}
		for k, v := range tt.headers {
			if rt.Headers[k] != v {
				t.Errorf("ParseReferTo(%q): header %s = %q, want %q", tt.in, k, rt.Headers[k], v)
			}
		}
	}
}

func TestParseReferToMalformed(t *testing.T) {
	for _, in := range []string{
		"", "   ", "<sip:bob@example.com", "bob@example.com", "<>", ":bob@x", "1sip:bob@x",
		"sip:a@b, sip:c@d", "<sip:bob@example.com> junk", `"Bob <sip:bob@example.com>`,
		"<sip:bob@example.com?Replaces=abc%3Bto-tag%3Dx>", // no from-tag
		"<sip:bob@example.com?Replaces=abc%3>",
		"<sip:bob@example.com?noequals>",
		"<sip:bob@example.com?Replaces=a%3Bto-tag%3Dx%3Bfrom-tag%3Dy&Replaces=a%3Bto-tag%3Dx%3Bfrom-tag%3Dy>",
		"<sip:?Replaces=a>", "<sip:bob@exa mple.com>", "sip:bob@example.com\x00",
		"<sip:" + strings.Repeat("a", maxLen) + ">", `"Bob" sip:bob@example.com`, `"Bob <sip:bob@example.com>"`,
	} {
		if rt, err := ParseReferTo(in); err == nil {
			t.Errorf("ParseReferTo(%q) = %+v, want an error", in, rt)
		}
	}
}

func TestParseReplaces(t *testing.T) {
	tests := []struct {
		in   string
		want Replaces
	}{
		{"98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff", Replaces{CallID: "98732@sip.example.com", ToTag: "ff87ff", FromTag: "r33th4x0r"}},
		{"12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only", Replaces{CallID: "12adf2f34456gs5", ToTag: "12345", FromTag: "54321", EarlyOnly: true}},
		{" 425928@bobster.example.org ; TO-TAG=7743 ; From-Tag=6472 ", Replaces{CallID: "425928@bobster.example.org", ToTag: "7743", FromTag: "6472"}},
		{"a;to-tag=b;from-tag=c;x-ext=1", Replaces{CallID: "a", ToTag: "b", FromTag: "c"}},
	}
	for _, tt := range tests {
		got, err := ParseReplaces(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseReplaces(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", ";to-tag=a;from-tag=b", "abc;to-tag=a", "abc;from-tag=b", "abc;to-tag=;from-tag=b",
		"abc;to-tag=a;from-tag=b;early-only=yes", "abc;to-tag=a;to-tag=c;from-tag=b", "a b;to-tag=a;from-tag=b",
		"abc;to-tag=a;from-tag=b;", "abc;to-tag=a b;from-tag=c"} {
		if r, err := ParseReplaces(in); err == nil {
			t.Errorf("ParseReplaces(%q) = %+v, want an error", in, r)
		}
	}
}

// TestReferToRoundTrip: what FormatReferTo writes, ParseReferTo reads back, with the Call-ID's '@'
// and the separators escaped as RFC 3891 §3's example does.
func TestReferToRoundTrip(t *testing.T) {
	r := &Replaces{CallID: "12345@192.168.118.3", ToTag: "12345", FromTag: "5FFE-3994"}
	got := FormatReferTo("sips:bob@example.org", r)
	want := "<sips:bob@example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>"
	if got != want {
		t.Errorf("FormatReferTo = %s, want %s", got, want)
	}
	rt, err := ParseReferTo(got)
	if err != nil || rt.Replaces == nil || *rt.Replaces != *r || rt.URI != "sips:bob@example.org" {
		t.Errorf("round trip: %+v, %v", rt, err)
	}
	if got := FormatReferTo("sip:carol@192.0.2.7:5062", nil); got != "<sip:carol@192.0.2.7:5062>" {
		t.Errorf("blind FormatReferTo = %s", got)
	}
}

// Bodies of the NOTIFYs in RFC 3515 §2.4.5 / RFC 5589's call flows.
func TestParseSipfrag(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		reason   string
		progress Progress
	}{
		{"SIP/2.0 100 Trying\r\n", 100, "Trying", ProgressTrying},
		{"SIP/2.0 180 Ringing\r\n", 180, "Ringing", ProgressRinging},
		{"SIP/2.0 183 Session Progress", 183, "Session Progress", ProgressRinging},
		{"SIP/2.0 200 OK\r\n", 200, "OK", ProgressSucceeded},
		{"SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\n", 200, "OK", ProgressSucceeded},
		{"SIP/2.0 503 Service Unavailable\r\n", 503, "Service Unavailable", ProgressFailed},
		{"SIP/2.0 603 Declined\n", 603, "Declined", ProgressFailed},
		{"sip/2.0 486 Busy Here", 486, "Busy Here", ProgressFailed},
	}
	for _, tt := range tests {
		f, err := ParseSipfrag([]byte(tt.in))
		if err != nil || f.Code != tt.code || f.Reason != tt.reason {
			t.Errorf("ParseSipfrag(%q) = %+v, %v; want %d %q", tt.in, f, err, tt.code, tt.reason)
		}
		if p := ProgressOf(f.Code); p != tt.progress {
			t.Errorf("ProgressOf(%d) = %s, want %s", f.Code, p, tt.progress)
		}
	}
	for _, in := range []string{"", "INVITE sip:bob@example.com SIP/2.0\r\n", "SIP/2.0 20 OK", "SIP/2.0 099 X",
		"SIP/2.0 700 X", "SIP/3.0 200 OK", "SIP/2.0 2x0 OK", "SIP/2.0", "SIP/2.0 200 O\x01K", strings.Repeat("x", maxLen+1)} {
		if f, err := ParseSipfrag([]byte(in)); err == nil {
			t.Errorf("ParseSipfrag(%q) = %+v, want an error", in, f)
		}
	}
	if got := string(FormatSipfrag(180, "Ringing")); got != "SIP/2.0 180 Ringing\r\n" {
		t.Errorf("FormatSipfrag = %q", got)
	}
}

func TestWantsSubscription(t *testing.T) {
	for in, want := range map[string]bool{"": true, "true": true, "false": false, "FALSE": false, " false ": false, "junk": true} {
		if got := WantsSubscription(in); got != want {
			t.Errorf("WantsSubscription(%q) = %v, want %v", in, got, want)
		}
	}
}
