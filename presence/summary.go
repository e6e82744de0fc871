// Package presence keeps trayphone's event subscriptions (RFC 6665): the message-summary of each
// account's voicemail box (MWI, RFC 3842) and the dialog state of favorites (BLF, RFC 4235). The
// body parsers (summary.go, dialoginfo.go) are pure; Subscription (subscription.go) runs one
// SUBSCRIBE dialog on a goroutine of its own and Set routes NOTIFYs to them.
package presence

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SummaryType is the content type of a message-summary body (RFC 3842 §6).
const SummaryType = "application/simple-message-summary"

// MaxBody bounds the bodies the parsers accept: real ones are a few hundred bytes.
const MaxBody = 64 * 1024

// Counts are the messages of one class: new and old, and of those the urgent ones.
type Counts struct {
	New, Old             int
	UrgentNew, UrgentOld int
}

// Summary is a parsed message-summary body (RFC 3842 §5.2).
type Summary struct {
	// Waiting is the Messages-Waiting header: the box has new messages.
	Waiting bool
	// Account is the Message-Account URI, "" when absent.
	Account string
	// Voice is the Voice-Message line (zero when absent); HasVoice says whether it was there.
	Voice    Counts
	HasVoice bool
}

// ErrBadSummary is wrapped by every error ParseSummary returns.
var ErrBadSummary = errors.New("not a valid message summary")

// ParseSummary reads an application/simple-message-summary body (RFC 3842 §5.2):
//
//	Messages-Waiting: yes
//	Message-Account: sip:alice@vmail.example.com
//	Voice-Message: 2/8 (0/2)
//
// Header names are case-insensitive; message-context classes other than voice are checked and
// ignored, as are the optional message headers after the first empty line. Messages-Waiting is
// required.
func ParseSummary(body []byte) (Summary, error) {
	var s Summary
	if len(body) > MaxBody {
		return s, fmt.Errorf("%w: the body is %d bytes, more than %d", ErrBadSummary, len(body), MaxBody)
	}
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	seenWaiting := false
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			if seenWaiting {
				break // msg-summary-line*, then optional opt-msg-headers (RFC 3842 §5.2)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return s, fmt.Errorf("%w: line %d has no \"name: value\": %q", ErrBadSummary, i+1, clip(line))
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		switch name {
		case "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				s.Waiting = true
			case "no":
				s.Waiting = false
			default:
				return s, fmt.Errorf("%w: Messages-Waiting is %q, want yes or no", ErrBadSummary, clip(value))
			}
			seenWaiting = true
		case "message-account":
			s.Account = value
		case "voice-message", "fax-message", "pager-message", "multimedia-message", "text-message", "none":
			c, err := parseCounts(value)
			if err != nil {
				return s, fmt.Errorf("%w: %s: %v", ErrBadSummary, name, err)
			}
			if name == "voice-message" {
				s.Voice, s.HasVoice = c, true
			}
		default:
			// An extension header: RFC 3842 §5.2 lets them be ignored.
		}
	}
	if !seenWaiting {
		return s, fmt.Errorf("%w: it has no Messages-Waiting line", ErrBadSummary)
	}
	return s, nil
}

// parseCounts reads "new/old" with an optional " (urgent-new/urgent-old)".
func parseCounts(v string) (Counts, error) {
	var c Counts
	main, urgent, hasUrgent := strings.Cut(v, "(")
	var err error
	if c.New, c.Old, err = pair(main); err != nil {
		return c, err
	}
	if hasUrgent {
		u, rest, ok := strings.Cut(urgent, ")")
		if !ok || strings.TrimSpace(rest) != "" {
			return c, fmt.Errorf("%q: the urgent counts want \"(new/old)\"", clip(v))
		}
		if c.UrgentNew, c.UrgentOld, err = pair(u); err != nil {
			return c, err
		}
		if c.UrgentNew > c.New || c.UrgentOld > c.Old {
			return c, fmt.Errorf("%q: more urgent messages than messages", clip(v))
		}
	}
	return c, nil
}

// maxCount bounds a message count: more is a broken or hostile body.
const maxCount = 1_000_000

func pair(s string) (int, int, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want new/old, like 2/8", clip(s))
	}
	n, err1 := strconv.Atoi(strings.TrimSpace(a))
	o, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || n < 0 || o < 0 || n > maxCount || o > maxCount {
		return 0, 0, fmt.Errorf("%q: the counts must be numbers from 0 to %d", clip(s), maxCount)
	}
	return n, o, nil
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
