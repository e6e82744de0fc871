package main

import (
	"bytes"
	bin "encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/config"
	"trayphone/internal/contacts"
	"trayphone/internal/paths"
	"trayphone/internal/phone"
)

// A greeting the phone cannot play (24-bit samples) is refused in words and the built-in greeting
// answers instead: no caller hears silence.
func TestSetupVoicemailRefusesGreeting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := make([]byte, 44)
	copy(h, "RIFF")
	copy(h[8:], "WAVEfmt ")
	le := bin.LittleEndian
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1)
	le.PutUint16(h[22:], 1)
	le.PutUint32(h[24:], 8000)
	le.PutUint16(h[34:], 24)
	copy(h[36:], "data")
	le.PutUint32(h[40:], 2400)
	greeting := filepath.Join(dir, "hello.wav")
	if err := os.WriteFile(greeting, append(h, make([]byte, 2400)...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Voicemail.Greeting = greeting
	var log bytes.Buffer
	m, err := setupVoicemail(cfg, paths.Paths{State: dir}, func(phone.VoicemailMessage) {}, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil || m == nil {
		t.Fatalf("setupVoicemail: %v", err)
	}
	if s := log.String(); !strings.Contains(s, "voicemail.greeting refused") || !strings.Contains(s, "unsupported 24-bit samples") || !strings.Contains(s, "built-in greeting") {
		t.Errorf("log %q: want the refusal, its reason and that the built-in greeting answers", s)
	}
	dev, _, _ := m.Take(phone.CallInfo{})
	st, err := dev.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := make([]int16, 160)
	var loud bool
	for range 100 { // 2 s of the greeting
		_ = st.Read(p)
		for _, v := range p {
			loud = loud || v > 3000 || v < -3000
		}
	}
	if !loud {
		t.Error("the caller hears silence instead of the built-in greeting")
	}
}

func TestBlockPattern(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want, err string }{
		{"sip:Spam@Bad.example:5060;transport=tcp", "sip:spam@bad.example", ""},
		{"spam@bad.example", "sip:spam@bad.example", ""},
		{"+1 (900) 555-0100", "+19005550100", ""},
		{"tel:+19005550100", "+19005550100", ""},
		{"sip:+19005550100@carrier.example", "+19005550100", ""},
		{"bob", "", "not a SIP address"},
		{"", "", "say which caller"},
		{"sip:*@x.example", "", "not a SIP address"},
	}
	for _, tc := range tests {
		got, err := blockPattern(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("blockPattern(%q): got %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// The screener tells contacts (imported or favorites) from strangers and anonymous callers, and
// names the rule with its file and line.
func TestScreenerContacts(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("/h/config.toml", []byte("[favorites]\ndesk = \"sip:desk@example.org\"\n\n[[screen]]\nmatch = \"anonymous\"\naction = \"reject\"\n\n[[screen]]\nmatch = \"contact\"\naction = \"ring\"\n\n[[screen]]\nmatch = \"unknown\"\naction = \"voicemail\"\n"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newScreener("/h/config.toml", cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	book := &addressBook{}
	book.cur.Store(&contacts.Book{Contacts: []contacts.Contact{{Name: "Bob", SIP: []string{"sip:bob@example.org"}, Numbers: []string{"+49 30 1234 5678"}}}})
	s.book.Store(book)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.Local)
	tests := []struct {
		uri, name string
		want      string
	}{
		{"sip:bob@example.org", "", "ring"},
		{"sip:030-12345678@carrier.example", "", "ring"}, // Bob's number
		{"<sip:Desk@Example.org:5060>", "", "ring"},      // a favorite
		{"sip:carol@example.org", "", "voicemail"},
		{"sip:anonymous@anonymous.invalid", "Anonymous", "reject"},
	}
	for _, tc := range tests {
		d := s.Screen(tc.uri, tc.name, now)
		if string(d.Action) != tc.want {
			t.Errorf("%s: got %s (%s), want %s", tc.uri, d.Action, d.Why, tc.want)
		}
	}
	if d := s.Screen("sip:carol@example.org", "", now); !strings.Contains(d.Why, "rule 3 (/h/config.toml:12)") {
		t.Errorf("why %q: want the rule with its file and line", d.Why)
	}
}

// TestTransferScreen: a far end's REFER may not send the user to an address a reject rule names
// by pattern (a blocked number, "+1900*"); the rules about who is calling (anonymous, unknown)
// do not judge a transfer's target.
func TestTransferScreen(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("/h/config.toml", []byte("[[screen]]\nmatch = \"+1900*\"\naction = \"reject\"\n\n[[screen]]\nmatch = \"sip:spam@*\"\naction = \"reject\"\n\n[[screen]]\nmatch = \"unknown\"\naction = \"reject\"\n"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newScreener("/h/config.toml", cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		refuse bool
	}{
		{"sip:+19005550100@carrier.example", true},
		{"sip:spam@example.org", true},
		{"sip:carol@example.org", false}, // unknown, but "unknown" is about callers
		{"sip:+15550100@carrier.example", false},
	} {
		err := s.transferAllowed(tc.target)
		if (err != nil) != tc.refuse {
			t.Errorf("%s: got %v, want refused %v", tc.target, err, tc.refuse)
		}
		if err != nil && !strings.Contains(err.Error(), "/h/config.toml:") {
			t.Errorf("%s: %v does not name the rule's place", tc.target, err)
		}
	}
}
