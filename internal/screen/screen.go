// Package screen decides what happens to an incoming call: the user's screening rules
// ([[screen]] in the settings), tried in order, the first that matches wins. It is pure: the
// caller's address, whether the caller is a contact, and the local time are given to it.
package screen

import (
	"fmt"
	"strings"
	"time"
)

// Action is what a rule does with a call it matches.
type Action string

// Actions.
const (
	ActionRing      Action = "ring"      // ring as usual
	ActionReject    Action = "reject"    // refuse: 433 for anonymous callers, 603 otherwise; never rings
	ActionVoicemail Action = "voicemail" // the answering machine takes the call at once
	ActionSilent    Action = "silent"    // no ring sound, a quiet notification only
)

// Actions lists the valid actions, in the order the documentation gives them.
var Actions = []Action{ActionRing, ActionReject, ActionVoicemail, ActionSilent}

// The match words that are not patterns.
const (
	MatchAnonymous = "anonymous" // the caller withheld their identity (RFC 3323)
	MatchContact   = "contact"   // the caller is in the imported contacts
	MatchUnknown   = "unknown"   // the caller is not in the contacts
)

// Rule is one [[screen]] table as written.
type Rule struct {
	Match  string
	Action Action
	When   string // "" for always
	// Where says where the rule was written ("config.toml:12"), for messages; may be "".
	Where string
}

// Caller is what the rules look at.
type Caller struct {
	// URI is the caller's address as it came (From), e.g. "sip:+15550100@example.org".
	URI string
	// Anonymous is set when the caller withheld their identity.
	Anonymous bool
	// Contact is set when the caller is in the imported contacts (or the favorites).
	Contact bool
}

// Decision is the outcome for one caller.
type Decision struct {
	// Index is the position of the rule that matched (from 0), or -1 when none did.
	Index  int
	Rule   Rule
	Action Action
	// Why says in words which rule applied and why, or that none did.
	Why string
}

// compiled is one checked rule.
type compiled struct {
	rule    Rule
	matcher matcher
	when    *Window
}

// Rules is a checked list of rules. The zero value matches nothing: every call rings.
type Rules struct {
	list []compiled
}

// RuleError is a rule that cannot be used.
type RuleError struct {
	Index int    // position from 0
	Field string // "match", "action" or "when"
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %d: %s: %v", e.Index+1, e.Field, e.Err)
}

// Compile checks every rule and returns them ready to use, or every problem found.
func Compile(rules []Rule) (*Rules, []*RuleError) {
	var errs []*RuleError
	out := &Rules{}
	for i, r := range rules {
		m, err := parseMatch(r.Match)
		if err != nil {
			errs = append(errs, &RuleError{Index: i, Field: "match", Err: err})
		}
		if err := CheckAction(r.Action); err != nil {
			errs = append(errs, &RuleError{Index: i, Field: "action", Err: err})
		}
		var w *Window
		if r.When != "" {
			win, err := ParseWhen(r.When)
			if err != nil {
				errs = append(errs, &RuleError{Index: i, Field: "when", Err: err})
			}
			w = &win
		}
		out.list = append(out.list, compiled{rule: r, matcher: m, when: w})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// CheckAction reports whether a is one of Actions.
func CheckAction(a Action) error {
	for _, v := range Actions {
		if a == v {
			return nil
		}
	}
	if a == "" {
		return fmt.Errorf("missing; want one of ring, reject, voicemail, silent")
	}
	return fmt.Errorf("unknown action %q (want ring, reject, voicemail or silent)", string(a))
}

// List returns the rules in order.
func (r *Rules) List() []Rule {
	if r == nil {
		return nil
	}
	out := make([]Rule, len(r.list))
	for i, c := range r.list {
		out[i] = c.rule
	}
	return out
}

// Decide returns what the first rule that matches c at local time now says; without one, the call
// rings.
func (r *Rules) Decide(c Caller, now time.Time) Decision {
	var outside []string // rules that match but not at this time
	if r != nil {
		for i, cr := range r.list {
			ok, why := cr.matcher.match(c)
			if !ok {
				continue
			}
			if cr.when != nil {
				if !cr.when.Contains(now) {
					outside = append(outside, fmt.Sprintf("rule %d matches the caller but applies only %q, and it is %s", i+1, cr.rule.When, now.Format("Mon 15:04")))
					continue
				}
				why += fmt.Sprintf(", and %s is within %q", now.Format("Mon 15:04"), cr.rule.When)
			}
			where := ""
			if cr.rule.Where != "" {
				where = " (" + cr.rule.Where + ")"
			}
			return Decision{Index: i, Rule: cr.rule, Action: cr.rule.Action,
				Why: fmt.Sprintf("rule %d%s, match = %q, action = %q: %s", i+1, where, cr.rule.Match, cr.rule.Action, why)}
		}
	}
	why := "no rule matches: the call rings"
	if len(outside) > 0 {
		why += " (" + strings.Join(outside, "; ") + ")"
	}
	return Decision{Index: -1, Action: ActionRing, Why: why}
}

// matcher is a parsed match value.
type matcher struct {
	kind    string // "anonymous", "contact", "unknown", "uri", "number"
	pattern string // for uri and number: lower-case, normalized
}

// parseMatch parses a match value: a word, a SIP URI pattern or a phone number pattern.
func parseMatch(s string) (matcher, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "":
		return matcher{}, fmt.Errorf("missing; want \"anonymous\", \"contact\", \"unknown\", or a pattern such as \"sip:*@spam.example\" or \"+1900*\"")
	case MatchAnonymous, MatchContact, MatchUnknown:
		return matcher{kind: strings.ToLower(t)}, nil
	}
	if strings.ContainsFunc(t, func(r rune) bool { return r < ' ' || r == 0x7f || r == ' ' }) {
		return matcher{}, fmt.Errorf("pattern %q has a space or control character", s)
	}
	if n, ok := numberPattern(t); ok {
		return matcher{kind: "number", pattern: n}, nil
	}
	lower := strings.ToLower(t)
	rest := lower
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if strings.HasPrefix(rest, scheme) {
			rest = rest[len(scheme):]
			break
		}
	}
	if strings.HasPrefix(lower, "tel:") {
		if n, ok := numberPattern(rest); ok {
			return matcher{kind: "number", pattern: n}, nil
		}
		return matcher{}, fmt.Errorf("pattern %q is not a phone number (digits, +, and * for any digits)", s)
	}
	if !strings.Contains(rest, "@") {
		return matcher{}, fmt.Errorf("pattern %q is neither a SIP address (user@host, with * for any text) nor a phone number (\"+1900*\")", s)
	}
	if strings.Count(rest, "@") > 1 {
		return matcher{}, fmt.Errorf("pattern %q has more than one @", s)
	}
	if strings.ContainsAny(rest, ";?<>\"") {
		return matcher{}, fmt.Errorf("pattern %q has parameters or brackets; write only user@host", s)
	}
	if user, host, _ := strings.Cut(rest, "@"); user == "" || host == "" {
		return matcher{}, fmt.Errorf("pattern %q needs a user and a host (use * for any: \"*@spam.example\")", s)
	}
	return matcher{kind: "uri", pattern: rest}, nil
}

// numberPattern reports whether s is a phone number pattern: digits, an optional leading +,
// visual separators (-, ., space, parentheses) and *. It returns the pattern without separators.
func numberPattern(s string) (string, bool) {
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '*':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	return b.String(), digits > 0
}

// match reports whether c matches and why, in words.
func (m matcher) match(c Caller) (bool, string) {
	switch m.kind {
	case MatchAnonymous:
		return c.Anonymous, "the caller withheld their identity"
	case MatchContact:
		return c.Contact && !c.Anonymous, "the caller is in your contacts"
	case MatchUnknown:
		return !c.Contact, "the caller is not in your contacts"
	case "number":
		num, ok := CallerNumber(c.URI)
		if !ok || c.Anonymous {
			return false, ""
		}
		return Glob(m.pattern, num), fmt.Sprintf("the number %s matches %s", num, m.pattern)
	case "uri":
		addr := userHost(c.URI)
		if addr == "" || c.Anonymous {
			return false, ""
		}
		return Glob(m.pattern, addr), fmt.Sprintf("the address %s matches %s", addr, m.pattern)
	}
	return false, ""
}

// userHost returns "user@host" (lower case, without port or parameters) of a sip:, sips: URI, or
// "host" when there is no user part; "" when uri is not one.
func userHost(uri string) string {
	s := strings.TrimSpace(uri)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "sip:"):
		s = s[4:]
	case strings.HasPrefix(lower, "sips:"):
		s = s[5:]
	default:
		return ""
	}
	user, host := "", s
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, host = s[:i], s[i+1:]
		if j := strings.IndexByte(user, ';'); j >= 0 { // user parameters: ";phone-context=..."
			user = user[:j]
		}
	}
	if i := strings.IndexAny(host, ";?"); i >= 0 {
		host = host[:i]
	}
	if strings.HasPrefix(host, "[") {
		if j := strings.IndexByte(host, ']'); j >= 0 {
			host = host[:j+1]
		}
	} else if j := strings.LastIndexByte(host, ':'); j >= 0 {
		host = host[:j]
	}
	if user == "" {
		return strings.ToLower(host)
	}
	return strings.ToLower(user + "@" + host)
}

// CallerNumber returns the phone number in a caller's address: the user part of a sip:/sips:
// URI or the number of a tel: URI, when it is made of digits (an optional +, visual separators
// dropped). ok is false when the address holds no number.
func CallerNumber(uri string) (string, bool) {
	s := strings.TrimSpace(uri)
	lower := strings.ToLower(s)
	if strings.HasPrefix(lower, "tel:") {
		s = s[4:]
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
	} else {
		uh := userHost(s)
		i := strings.LastIndexByte(uh, '@')
		if i < 0 {
			return "", false
		}
		s = uh[:i]
	}
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '(' || r == ')' || r == ' ':
		default:
			return "", false
		}
	}
	return b.String(), digits > 0
}

// IsAnonymous reports whether a From address and display name say the caller withheld their
// identity: the RFC 3323 form sip:anonymous@anonymous.invalid, any "anonymous" user or host, or
// the display name "Anonymous" with no user part.
func IsAnonymous(uri, displayName string) bool {
	uh := userHost(uri)
	if uh == "" {
		return strings.EqualFold(strings.TrimSpace(displayName), "anonymous")
	}
	user, host := "", uh
	if i := strings.LastIndexByte(uh, '@'); i >= 0 {
		user, host = uh[:i], uh[i+1:]
	}
	switch {
	case user == "anonymous", host == "anonymous.invalid", user == "" && strings.EqualFold(strings.TrimSpace(displayName), "anonymous"):
		return true
	}
	return false
}

// Glob reports whether s matches pattern, where * stands for any text (also none) and every other
// character for itself. Both are compared as given (callers lower-case them).
func Glob(pattern, s string) bool {
	// Iterative matching with one backtrack point: linear in practice, never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Address returns user@host of a sip: or sips: URI (also inside <...>), lower case, without port
// or parameters; host alone when there is no user; "" when uri is not a SIP URI.
func Address(uri string) string { return userHost(uri) }
