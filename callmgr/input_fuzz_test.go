package callmgr

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzResolveTarget feeds arbitrary dial targets (typed, from the control socket, or from a
// clicked link) to resolveTarget: nothing may panic, and a target it accepts has a host.
func FuzzResolveTarget(f *testing.F) {
	for _, s := range []string{"sip:bob@192.0.2.1:5062;transport=tcp", "bob@example.com", "192.0.2.1:5060",
		"[2001:db8::1]:5060", "tel:+15551234", "echo", "alice", "sips:%00@x", "sip:@", "sip:a@b?Route=%3Csip:evil%3E",
		"sip:a@b;maddr=;lr", " sip:x@[::1 "} {
		f.Add(s, "")
	}
	f.Add("alice", "sip:alice@192.0.2.9")
	f.Fuzz(func(t *testing.T, target, fav string) {
		uri, echo, err := resolveTarget(target, map[string]string{"alice": fav, fav: "alice"})
		if err == nil && !echo && uri.Host == "" {
			t.Fatalf("resolveTarget(%q) = %v with no host", target, uri)
		}
	})
}

// FuzzCleanName feeds arbitrary caller display names to cleanName: what it returns is valid
// UTF-8 with no control, bidirectional-override or isolate characters, at most maxNameRunes
// runes plus an ellipsis, with no leading, trailing or doubled spaces.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Alice", "\u202eknab\u202c", "a\r\nINVITE sip:x", "\xff\xfe", strings.Repeat("ä", 100),
		"  two  spaces  ", "\u2066x\u2069", "\x1b[31mred"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := cleanName(s)
		if !utf8.ValidString(got) {
			t.Fatalf("cleanName(%q) = %q: not UTF-8", s, got)
		}
		if n := utf8.RuneCountInString(got); n > maxNameRunes+1 {
			t.Fatalf("cleanName(%q) has %d runes, want at most %d", s, n, maxNameRunes+1)
		}
		for _, r := range got {
			if (unicode.IsControl(r) || isBidiControl(r)) || (unicode.IsSpace(r) && r != ' ') {
				t.Fatalf("cleanName(%q) = %q keeps %U", s, got, r)
			}
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("cleanName(%q) = %q: stray spaces", s, got)
		}
	})
}
