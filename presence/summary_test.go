package presence

import (
	"errors"
	"testing"
)

// rfc3842Simple is the body of RFC 3842 §6 (the first NOTIFY of the example flow).
const rfc3842Simple = "Messages-Waiting: yes\r\n" +
	"Message-Account: sip:alice@vmail.example.com\r\n" +
	"Voice-Message: 2/8 (0/2)\r\n"

// rfc3842Headers is the RFC 3842 §6 body with optional message headers after the summary lines.
const rfc3842Headers = "Messages-Waiting: yes\r\n" +
	"Message-Account: sip:alice@vmail.example.com\r\n" +
	"Voice-Message: 4/8 (1/2)\r\n" +
	"\r\n" +
	"To: <alice@atlanta.example.com>\r\n" +
	"From: <bob@biloxi.example.com>\r\n" +
	"Subject: carpool tomorrow?\r\n" +
	"Priority: normal\r\n" +
	"Message-ID: 13784434989@vmail.example.com\r\n"

func TestParseSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want Summary
	}{
		{"rfc3842 simple", rfc3842Simple, Summary{Waiting: true, Account: "sip:alice@vmail.example.com", Voice: Counts{New: 2, Old: 8, UrgentNew: 0, UrgentOld: 2}, HasVoice: true}},
		{"rfc3842 with message headers", rfc3842Headers, Summary{Waiting: true, Account: "sip:alice@vmail.example.com", Voice: Counts{New: 4, Old: 8, UrgentNew: 1, UrgentOld: 2}, HasVoice: true}},
		{"no messages", "Messages-Waiting: no\r\n", Summary{}},
		{"lower case, LF, no urgent", "messages-waiting: YES\nvoice-message: 1/0\n", Summary{Waiting: true, Voice: Counts{New: 1}, HasVoice: true}},
		{"fax only, extension header", "Messages-Waiting: yes\r\nFax-Message: 1/1\r\nX-Vendor: 7\r\n", Summary{Waiting: true}},
		{"spaces around", "Messages-Waiting :  yes \r\nVoice-Message:  3 / 4 ( 1 / 0 ) \r\n", Summary{Waiting: true, Voice: Counts{New: 3, Old: 4, UrgentNew: 1}, HasVoice: true}},
	}
	for _, tt := range tests {
		got, err := ParseSummary([]byte(tt.body))
		if err != nil {
			t.Errorf("%s: got error %v, want none", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseSummaryBad(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"",
		"Voice-Message: 2/8\r\n",      // no Messages-Waiting
		"Messages-Waiting: maybe\r\n", // not yes/no
		"Messages-Waiting: yes\r\nVoice-Message: 2\r\n",    // no slash
		"Messages-Waiting: yes\r\nVoice-Message: a/b\r\n",  // not numbers
		"Messages-Waiting: yes\r\nVoice-Message: -1/0\r\n", // negative
		"Messages-Waiting: yes\r\nVoice-Message: 1/1 (2/0)\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1/1 (0/0\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 99999999999999999999/0\r\n",
		"<?xml version=\"1.0\"?><dialog-info/>",
		"Messages-Waiting yes\r\n",
	} {
		_, err := ParseSummary([]byte(body))
		if !errors.Is(err, ErrBadSummary) {
			t.Errorf("ParseSummary(%q): got error %v, want ErrBadSummary", body, err)
		}
	}
	big := make([]byte, MaxBody+1)
	if _, err := ParseSummary(big); !errors.Is(err, ErrBadSummary) {
		t.Errorf("oversized body: got %v, want ErrBadSummary", err)
	}
}

// FuzzParseSummary checks that ParseSummary never panics, that every error wraps ErrBadSummary
// and that a parsed body has sane counts.
func FuzzParseSummary(f *testing.F) {
	f.Add([]byte(rfc3842Simple))
	f.Add([]byte(rfc3842Headers))
	f.Add([]byte("Messages-Waiting: no\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSummary(b)
		if err != nil {
			if !errors.Is(err, ErrBadSummary) {
				t.Fatalf("got error %v, want one wrapping ErrBadSummary", err)
			}
			return
		}
		c := s.Voice
		if c.New < 0 || c.Old < 0 || c.UrgentNew > c.New || c.UrgentOld > c.Old || c.New > maxCount {
			t.Fatalf("got counts %+v", c)
		}
	})
}
