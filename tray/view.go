package tray

import (
	"fmt"
	"strings"
	"time"

	"trayphone/assets"
	"trayphone/internal/phone"
)

// view is what the tray shows, derived from one phone.Status snapshot. It is a pure function of its
// inputs so that the menu logic is testable without a tray host.
type view struct {
	icon     assets.IconState
	tooltip  string
	accounts []string        // one status line per account
	callLine string          // "In call with bob — 01:23", or ""
	incoming *phone.CallInfo // a call ringing here, for Answer / Decline
	current  *phone.CallInfo // the call that Hang up / Mute / Hold / keypad act on
	// calls lists every call when there are two or more (call waiting): each gets a submenu with
	// swap, hold and hang up. Nil with one call, which the top-level items serve.
	calls []phone.CallInfo
	dnd   bool
	// vm is the voicemail boxes (MWI): the title's count and "Call voicemail".
	vm voicemailBox
	// lines maps watched favorites' names to their line state (BLF).
	lines map[string]string
	// forward is the call forwarding in force, nil when off.
	forward *phone.Forward
}

// buildView derives the view from a snapshot at time now; names maps a remote URI to a display name.
func buildView(st phone.Status, now time.Time, names func(string) string) view {
	v := view{dnd: st.DND, vm: voicemailOf(st.Accounts), lines: favoriteStates(st), forward: st.Forward}
	for i := range st.Calls {
		c := &st.Calls[i]
		switch c.State {
		case phone.CallIncoming:
			if v.incoming == nil {
				v.incoming = c
			}
		case phone.CallActive, phone.CallHeld, phone.CallDialing, phone.CallRinging:
			if v.current == nil || (v.current.State != phone.CallActive && c.State == phone.CallActive) {
				v.current = c
			}
		}
	}
	if len(st.Calls) >= 2 {
		v.calls = st.Calls
	}
	var registered, failed bool
	for _, a := range st.Accounts {
		line := fmt.Sprintf("%s: %s", a.AOR, a.State)
		if a.Reason != "" && a.State != phone.RegRegistered {
			line += " (" + a.Reason + ")"
		}
		v.accounts = append(v.accounts, line)
		registered = registered || a.State == phone.RegRegistered
		failed = failed || a.State == phone.RegFailed
	}
	if len(v.accounts) == 0 {
		v.accounts = []string{"No accounts configured"}
	}
	switch c := v.current; {
	case v.incoming != nil:
		v.callLine = lock(*v.incoming) + "Incoming call from " + callerLabel(*v.incoming, names)
	case c == nil:
	case c.State == phone.CallDialing || c.State == phone.CallRinging:
		v.callLine = "Calling " + displayName(*c, names) + "…"
	case c.Voicemail:
		v.callLine = fmt.Sprintf("%s is leaving a message — %s", displayName(*c, names), clockText(now.Sub(c.Answered)))
	case c.State == phone.CallHeld:
		v.callLine = fmt.Sprintf("%sOn hold with %s — %s", lock(*c), displayName(*c, names), clockText(now.Sub(c.Answered)))
	default:
		v.callLine = fmt.Sprintf("%sIn call with %s — %s", lock(*c), displayName(*c, names), clockText(now.Sub(c.Answered)))
	}
	switch {
	case v.incoming != nil:
		v.icon = assets.IconRinging
	case v.current != nil:
		v.icon = assets.IconInCall
	case failed:
		v.icon = assets.IconError
	case st.DND:
		v.icon = assets.IconDND
	case registered:
		v.icon = assets.IconIdle
	default:
		v.icon = assets.IconOffline
	}
	lines := []string{"trayphone"}
	if st.DND {
		lines[0] += " (do not disturb)"
	}
	lines = append(lines, v.accounts...)
	if v.vm.New > 0 {
		lines = append(lines, fmt.Sprintf("Voicemail: %d new", v.vm.New))
	}
	if v.callLine != "" {
		lines = append(lines, v.callLine)
	}
	for _, c := range v.calls {
		lines = append(lines, callTitle(c, names))
	}
	v.tooltip = strings.Join(lines, "\n")
	return v
}

// lock is a padlock and a space for a call whose audio is encrypted, "" otherwise.
func lock(c phone.CallInfo) string {
	if encrypted(c) {
		return "🔒 "
	}
	return ""
}

// encrypted reports whether c's audio is encrypted (SRTP with SDES or DTLS keys).
func encrypted(c phone.CallInfo) bool {
	return c.Encryption != "" && c.Encryption != "none"
}

// clockText formats a call duration as mm:ss, or h:mm:ss from one hour.
func clockText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// displayName is the best short name for the far end: the name it sent, a favorite's name, or the
// user part of its URI.
func displayName(c phone.CallInfo, names func(string) string) string {
	if c.RemoteName != "" {
		return c.RemoteName
	}
	if names != nil {
		if n := names(c.Remote); n != "" {
			return n
		}
	}
	return userPart(c.Remote)
}

// callerLabel is "Name (number)" when both are known, else whichever is.
func callerLabel(c phone.CallInfo, names func(string) string) string {
	name, num := displayName(c, names), userPart(c.Remote)
	if strings.EqualFold(name, num) || num == "" {
		return name
	}
	return name + " (" + num + ")"
}

// userPart returns "bob" for "sip:bob@example.com;transport=tcp" and "+4930123" for "tel:+4930123".
func userPart(uri string) string {
	s := uri
	if i := strings.IndexAny(s, "<"); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, ">")
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		s = strings.TrimPrefix(s, p)
	}
	if i := strings.IndexAny(s, "@;>"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return uri
	}
	return s
}

// missed reports whether an ended incoming call was never answered here nor declined by the user.
// declined holds the IDs of calls the user declined from this tray.
func missed(c phone.CallInfo, declined map[string]bool) bool {
	return c.Direction == phone.Incoming && c.Answered.IsZero() && !declined[c.ID] &&
		!answeredElsewhere(c.EndReason)
}

// answeredElsewhere recognises the end reason of a call picked up on another device (RFC 3326 Reason
// "Call completed elsewhere").
func answeredElsewhere(reason string) bool {
	return strings.Contains(strings.ToLower(reason), "elsewhere")
}

// callTitle names one call of several in the tray: "Call 2: Bob — on hold".
func callTitle(c phone.CallInfo, names func(string) string) string {
	var state string
	switch {
	case c.State == phone.CallIncoming:
		state = "incoming"
	case c.State == phone.CallDialing || c.State == phone.CallRinging:
		state = "calling"
	case c.LocalHold:
		state = "on hold"
	case c.RemoteHold:
		state = "held by the far end"
	case len(c.Conference) > 0:
		state = "in conference"
	default:
		state = "active"
	}
	return fmt.Sprintf("Call %s: %s — %s", c.ID, displayName(c, names), state)
}

// dialable returns the clipboard text as a dial target when it is one short line that looks like a
// phone number or a sip:/sips:/tel: URI or user@host.
func dialable(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if s == "" || len(s) > 256 || strings.ContainsAny(s, "\r\n\t <>\"") {
		return "", false
	}
	lower := strings.ToLower(s)
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		if strings.HasPrefix(lower, p) {
			return s, len(s) > len(p)
		}
	}
	if strings.Contains(s, "@") {
		return s, true
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-().*#/", r):
		default:
			return "", false
		}
	}
	return s, digits >= 2
}
