// Package refer is the wire format of call transfer, pure and without I/O: the Refer-To header of a
// REFER (RFC 3515 §2.1) with a Replaces header embedded in its URI (RFC 3891 §3, RFC 5589 §7), the
// Replaces header of an INVITE (RFC 3891 §6.1), the message/sipfrag status line a NOTIFY carries
// (RFC 3515 §2.4.5, RFC 3420) and the Refer-Sub header (RFC 4488 §4).
package refer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxLen bounds every value parsed here: header values from the network are untrusted.
const maxLen = 4096

// ReferTo is a parsed Refer-To header value.
type ReferTo struct {
	// Scheme is the URI's scheme, lower case ("sip", "sips", "tel", "http", ...).
	Scheme string
	// URI is the target without its embedded headers (the part before '?'), as written.
	URI string
	// Replaces is the dialog the target is to replace (attended transfer), nil if none.
	Replaces *Replaces
	// Headers are the other headers embedded in the URI, by name as written, values unescaped.
	Headers map[string]string
}

// ParseReferTo parses a Refer-To header value: a name-addr ("Name" <uri>;params) or an addr-spec
// (uri). The URI's embedded headers (after '?', '&'-separated, %-escaped) are unescaped; an
// embedded Replaces is parsed (ParseReplaces). It checks the form only: whether the scheme is
// acceptable is the caller's decision.
func ParseReferTo(v string) (ReferTo, error) {
	var rt ReferTo
	v = strings.TrimSpace(v)
	if v == "" {
		return rt, errors.New("the Refer-To is empty")
	}
	if len(v) > maxLen {
		return rt, fmt.Errorf("the Refer-To is %d bytes long, more than %d", len(v), maxLen)
	}
	uri := v
	from := 0 // where '<' is looked for: after a quoted display name, which may hold one
	if v[0] == '"' {
		end := closingQuote(v)
		if end < 0 {
			return rt, errors.New("the Refer-To display name has no closing quote")
		}
		from = end + 1
	}
	if i := strings.IndexByte(v[from:], '<'); i >= 0 || from > 0 {
		if i < 0 {
			return rt, errors.New("the Refer-To has a display name but no <address>")
		}
		i += from
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return rt, errors.New("the Refer-To has '<' without '>'")
		}
		if err := checkDisplayName(v[:i]); err != nil {
			return rt, err
		}
		uri = v[i+1 : i+j]
		if rest := strings.TrimSpace(v[i+j+1:]); rest != "" && rest[0] != ';' {
			return rt, fmt.Errorf("the Refer-To has %q after the address", rest)
		}
	} else if i := strings.IndexAny(v, ";,"); i >= 0 {
		// addr-spec form: parameters after ';' belong to the header, and the URI cannot carry
		// ',', ';' or '?' (RFC 3261 §20).
		if v[i] == ',' {
			return rt, errors.New("the Refer-To has more than one value")
		}
		uri = v[:i]
	}
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return rt, errors.New("the Refer-To has no address")
	}
	for _, r := range uri {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' {
			return rt, fmt.Errorf("the Refer-To address %q has a character not allowed in a URI", uri)
		}
	}
	colon := strings.IndexByte(uri, ':')
	if colon <= 0 {
		return rt, fmt.Errorf("the Refer-To address %q has no scheme (like sip:)", uri)
	}
	scheme := uri[:colon]
	for i, r := range scheme {
		alpha := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !alpha && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return rt, fmt.Errorf("the Refer-To address %q has no valid scheme", uri)
		}
	}
	rt.Scheme = strings.ToLower(scheme)
	rt.URI = uri
	q := strings.IndexByte(uri, '?')
	if q < 0 || (rt.Scheme != "sip" && rt.Scheme != "sips") {
		return rt, nil // other schemes use '?' their own way (RFC 3515 §2.1's mailto:)
	}
	rt.URI = uri[:q]
	if colon+1 >= q {
		return rt, fmt.Errorf("the Refer-To address %q has nothing after its scheme", uri)
	}
	for _, h := range strings.Split(uri[q+1:], "&") {
		name, val, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return rt, fmt.Errorf("the Refer-To address has a malformed embedded header %q", h)
		}
		name, err := unescape(name)
		if err != nil {
			return rt, fmt.Errorf("the Refer-To embedded header name: %w", err)
		}
		val, err = unescape(val)
		if err != nil {
			return rt, fmt.Errorf("the Refer-To embedded header %s: %w", name, err)
		}
		if strings.EqualFold(name, "Replaces") {
			if rt.Replaces != nil {
				return rt, errors.New("the Refer-To embeds Replaces twice")
			}
			r, err := ParseReplaces(val)
			if err != nil {
				return rt, fmt.Errorf("the Refer-To embeds a bad Replaces: %w", err)
			}
			rt.Replaces = &r
			continue
		}
		if rt.Headers == nil {
			rt.Headers = map[string]string{}
		}
		rt.Headers[name] = val
	}
	return rt, nil
}

// closingQuote returns the index of the quote that closes the quoted string s starts with, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// checkDisplayName accepts what may come before '<': nothing, a token list, or a quoted string.
func checkDisplayName(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if s[0] == '"' {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				if strings.TrimSpace(s[i+1:]) != "" {
					return fmt.Errorf("the Refer-To has %q between the name and the address", s[i+1:])
				}
				return nil
			}
		}
		return errors.New("the Refer-To display name has no closing quote")
	}
	for _, r := range s {
		if r == '"' || r == '>' || r == ';' || r == ',' || r < ' ' {
			return fmt.Errorf("the Refer-To display name %q is malformed", s)
		}
	}
	return nil
}

// FormatReferTo returns a Refer-To header value for uri (a SIP URI without embedded headers): the
// attended-transfer form with r escaped into it when r is set (RFC 3891 §3, RFC 5589 §7.1).
func FormatReferTo(uri string, r *Replaces) string {
	if r == nil {
		return "<" + uri + ">"
	}
	return "<" + uri + "?Replaces=" + escape(r.String()) + ">"
}

// Replaces names a dialog (RFC 3891 §6.1): its Call-ID and tags, as seen by the UA that receives
// the Replaces: ToTag is that UA's own tag, FromTag the other end's.
type Replaces struct {
	CallID    string
	ToTag     string
	FromTag   string
	EarlyOnly bool
}

// ParseReplaces parses a Replaces header value: callid;to-tag=T;from-tag=F[;early-only], the
// parameters in any order, their names in any case, both tags required.
func ParseReplaces(v string) (Replaces, error) {
	var r Replaces
	v = strings.TrimSpace(v)
	if len(v) > maxLen {
		return r, fmt.Errorf("the Replaces is %d bytes long, more than %d", len(v), maxLen)
	}
	parts := strings.Split(v, ";")
	r.CallID = strings.TrimSpace(parts[0])
	if r.CallID == "" {
		return r, errors.New("the Replaces has no Call-ID")
	}
	if !isWords(r.CallID) {
		return r, fmt.Errorf("the Replaces Call-ID %q is malformed", r.CallID)
	}
	var haveTo, haveFrom bool
	for _, p := range parts[1:] {
		name, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		switch name {
		case "to-tag", "from-tag":
			if !hasVal || val == "" || !isToken(val) {
				return r, fmt.Errorf("the Replaces %s %q is malformed", name, val)
			}
			if name == "to-tag" {
				if haveTo {
					return r, errors.New("the Replaces has two to-tags")
				}
				r.ToTag, haveTo = val, true
			} else {
				if haveFrom {
					return r, errors.New("the Replaces has two from-tags")
				}
				r.FromTag, haveFrom = val, true
			}
		case "early-only":
			if hasVal {
				return r, errors.New("the Replaces early-only takes no value")
			}
			r.EarlyOnly = true
		case "":
			return r, errors.New("the Replaces has an empty parameter")
		default:
			if !isToken(name) || (hasVal && !isToken(strings.Trim(val, "\""))) {
				return r, fmt.Errorf("the Replaces parameter %q is malformed", p)
			}
		}
	}
	if !haveTo || !haveFrom {
		return r, errors.New("the Replaces needs both to-tag and from-tag")
	}
	return r, nil
}

// String formats r as a Replaces header value.
func (r Replaces) String() string {
	s := r.CallID + ";to-tag=" + r.ToTag + ";from-tag=" + r.FromTag
	if r.EarlyOnly {
		s += ";early-only"
	}
	return s
}

// Progress is where a transfer stands, from the status line of a NOTIFY's message/sipfrag body.
type Progress int

// Transfer progress. The zero value is Unknown.
const (
	ProgressUnknown Progress = iota
	ProgressTrying
	ProgressRinging
	ProgressSucceeded
	ProgressFailed
)

func (p Progress) String() string {
	switch p {
	case ProgressTrying:
		return "trying"
	case ProgressRinging:
		return "ringing"
	case ProgressSucceeded:
		return "succeeded"
	case ProgressFailed:
		return "failed"
	}
	return "unknown"
}

// ProgressOf maps a SIP status code to transfer progress: 180/183 ringing, other 1xx trying, 2xx
// succeeded, anything final failed (RFC 3515 §2.4.5).
func ProgressOf(code int) Progress {
	switch {
	case code == 180 || code == 183:
		return ProgressRinging
	case code >= 100 && code < 200:
		return ProgressTrying
	case code >= 200 && code < 300:
		return ProgressSucceeded
	case code >= 300 && code < 700:
		return ProgressFailed
	}
	return ProgressUnknown
}

// Sipfrag is the status line of a message/sipfrag body (RFC 3420 §2): a NOTIFY of a REFER's
// implicit subscription carries one (RFC 3515 §2.4.5).
type Sipfrag struct {
	Code   int
	Reason string
}

// ParseSipfrag parses a message/sipfrag body whose first line is a SIP status line; header lines
// after it are allowed and ignored.
func ParseSipfrag(body []byte) (Sipfrag, error) {
	var f Sipfrag
	if len(body) == 0 {
		return f, errors.New("sipfrag body is empty")
	}
	if len(body) > maxLen {
		return f, fmt.Errorf("sipfrag body is %d bytes long, more than %d", len(body), maxLen)
	}
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimSuffix(line, "\r")
	version, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.EqualFold(version, "SIP/2.0") {
		return f, fmt.Errorf("sipfrag %q does not start with a SIP/2.0 status line", clip(line))
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 {
		return f, fmt.Errorf("sipfrag status %q is not a three-digit code", clip(code))
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 699 {
		return f, fmt.Errorf("sipfrag status %q is not a SIP status code", clip(code))
	}
	for _, r := range reason {
		if r < ' ' && r != '\t' || r == 0x7f {
			return f, errors.New("sipfrag reason phrase has a control character")
		}
	}
	return Sipfrag{Code: n, Reason: reason}, nil
}

// FormatSipfrag returns the message/sipfrag body for a status (RFC 3515 §2.4.5).
func FormatSipfrag(code int, reason string) []byte {
	return []byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", code, reason))
}

// WantsSubscription reports whether a REFER's Refer-Sub header value (RFC 4488 §4) asks for the
// implicit subscription: only "false" (any case) declines it; an absent header ("") asks for it.
func WantsSubscription(referSub string) bool {
	return !strings.EqualFold(strings.TrimSpace(referSub), "false")
}

// isToken reports whether s is an RFC 3261 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("-.!%*_+`'~", rune(c)) {
			return false
		}
	}
	return true
}

// isWords reports whether s is an RFC 3261 callid: word ["@" word].
func isWords(s string) bool {
	a, b, two := strings.Cut(s, "@")
	return isWord(a) && (!two || isWord(b))
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("-.!%*_+`'~()<>:\\\"/[]?{}", rune(c)) {
			return false
		}
	}
	return true
}

// unescape undoes %HH escapes.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", fmt.Errorf("bad %%-escape in %q", clip(s))
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// escape %-escapes s for a URI header value (RFC 3261 §25.1 hvalue): unreserved and
// hnv-unreserved characters stay, everything else is escaped.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()[]/:+$", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
