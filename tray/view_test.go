package tray

import (
	"testing"
	"time"

	"trayphone/assets"
	"trayphone/internal/phone"
)

func TestBuildView(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	reg := phone.AccountInfo{ID: "a", AOR: "sip:alice@example.com", State: phone.RegRegistered}
	failed := phone.AccountInfo{ID: "b", AOR: "sip:b@example.com", State: phone.RegFailed, Reason: "403 Forbidden"}
	active := phone.CallInfo{ID: "c", Remote: "sip:bob@example.com", State: phone.CallActive, Answered: now.Add(-83 * time.Second)}
	ringing := phone.CallInfo{ID: "r", Direction: phone.Incoming, Remote: "sip:+4930123@example.com", State: phone.CallIncoming}
	secure := active
	secure.Encryption = "srtp"
	secureRing := ringing
	secureRing.Encryption = "srtp"
	plain := active
	plain.Encryption = "none"
	machine := active
	machine.Voicemail = true
	dtls := active
	dtls.Encryption = "dtls-srtp"
	names := favoriteNames([]Favorite{{Name: "Bob", URI: "sips:bob@example.com"}})
	for _, tc := range []struct {
		name     string
		st       phone.Status
		icon     assets.IconState
		callLine string
	}{
		{"no accounts", phone.Status{}, assets.IconOffline, ""},
		{"registered", phone.Status{Accounts: []phone.AccountInfo{reg}}, assets.IconIdle, ""},
		{"dnd", phone.Status{DND: true, Accounts: []phone.AccountInfo{reg}}, assets.IconDND, ""},
		{"failed", phone.Status{Accounts: []phone.AccountInfo{reg, failed}}, assets.IconError, ""},
		{"in call", phone.Status{Accounts: []phone.AccountInfo{reg}, Calls: []phone.CallInfo{active}}, assets.IconInCall, "In call with Bob — 01:23"},
		{"ringing wins", phone.Status{Calls: []phone.CallInfo{active, ringing}}, assets.IconRinging, "Incoming call from +4930123"},
		{"encrypted call", phone.Status{Calls: []phone.CallInfo{secure}}, assets.IconInCall, "🔒 In call with Bob — 01:23"},
		{"plain call", phone.Status{Calls: []phone.CallInfo{plain}}, assets.IconInCall, "In call with Bob — 01:23"},
		{"dtls-srtp call", phone.Status{Calls: []phone.CallInfo{dtls}}, assets.IconInCall, "🔒 In call with Bob — 01:23"},
		{"encrypted ringing", phone.Status{Calls: []phone.CallInfo{secureRing}}, assets.IconRinging, "🔒 Incoming call from +4930123"},
		{"answering machine", phone.Status{Calls: []phone.CallInfo{machine}}, assets.IconInCall, "Bob is leaving a message — 01:23"},
	} {
		v := buildView(tc.st, now, names)
		if v.icon != tc.icon {
			t.Errorf("%s: icon got %v, want %v", tc.name, v.icon, tc.icon)
		}
		if v.callLine != tc.callLine {
			t.Errorf("%s: call line got %q, want %q", tc.name, v.callLine, tc.callLine)
		}
	}
}

func TestCallerLabel(t *testing.T) {
	t.Parallel()
	names := NamesFrom([]Favorite{{Name: "Bob", URI: "sip:bob@example.com:5070"}},
		func(uri string) string {
			if uri == "sip:+4930123@pbx.example.com" {
				return "Carol (contacts)"
			}
			return ""
		})
	for _, tc := range []struct{ remote, remoteName, want string }{
		{"sip:bob@example.com", "", "Bob"}, // the name differs from the user part only in case
		{"sip:+4930123@pbx.example.com", "", "Carol (contacts) (+4930123)"},
		{"sip:+4930123@pbx.example.com", "Front Desk", "Front Desk (+4930123)"},
		{"sip:dave@example.com", "", "dave"},
	} {
		c := phone.CallInfo{Remote: tc.remote, RemoteName: tc.remoteName}
		if got := callerLabel(c, names); got != tc.want {
			t.Errorf("callerLabel(%q, %q) = %q, want %q", tc.remote, tc.remoteName, got, tc.want)
		}
	}
}

func TestDialable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{" sip:bob@example.com\n", "sip:bob@example.com", true},
		{"<tel:+49 30 123>", "", false},
		{"+49 (30) 123-45", "", false},
		{"+49(30)123-45", "+49(30)123-45", true},
		{"bob@example.com", "bob@example.com", true},
		{"hello world", "", false},
		{"sip:", "sip:", false},
		{"line1\nline2", "", false},
	} {
		got, ok := dialable(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("dialable(%q): got %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
