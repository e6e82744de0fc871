package tray

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

func TestVoicemailOf(t *testing.T) {
	t.Parallel()
	home := phone.AccountInfo{ID: "home", VoicemailURI: "sip:*97@home.example", Voicemail: &phone.MessageCount{New: 0, Old: 3}}
	work := phone.AccountInfo{ID: "work", VoicemailURI: "sip:*98@work.example", Voicemail: &phone.MessageCount{New: 2, Old: 8, Waiting: true}}
	bare := phone.AccountInfo{ID: "bare", Voicemail: &phone.MessageCount{New: 1}}
	for _, tc := range []struct {
		name               string
		accts              []phone.AccountInfo
		wantNew            int
		wantURI, title, lb string
	}{
		{"none", nil, 0, "", "trayphone", "Call voicemail"},
		{"no new", []phone.AccountInfo{home}, 0, "sip:*97@home.example", "trayphone", "Call voicemail"},
		{"new at work", []phone.AccountInfo{home, work}, 2, "sip:*98@work.example", "trayphone (2)", "Call voicemail (2 new)"},
		{"count without a box", []phone.AccountInfo{bare, home}, 1, "sip:*97@home.example", "trayphone (1)", "Call voicemail (1 new)"},
	} {
		b := voicemailOf(tc.accts)
		if b.New != tc.wantNew || b.URI != tc.wantURI || b.title() != tc.title || b.label() != tc.lb {
			t.Errorf("%s: got %+v %q %q, want %d %q %q %q", tc.name, b, b.title(), b.label(), tc.wantNew, tc.wantURI, tc.title, tc.lb)
		}
	}
}

func TestFavoriteLabel(t *testing.T) {
	t.Parallel()
	st := phone.Status{Favorites: []phone.FavoriteState{
		{Name: "Front desk", State: "busy"}, {Name: "Bob", State: "ringing"}, {Name: "Carol", State: "idle"}, {Name: "Dan", State: "unknown"},
	}}
	states := favoriteStates(st)
	for _, tc := range []struct {
		f    Favorite
		want string
	}{
		{Favorite{Name: "Front desk", URI: "sip:fd@example.com"}, "● Front desk (busy)"},
		{Favorite{Name: "Bob"}, "◐ Bob (ringing)"},
		{Favorite{Name: "Carol"}, "○ Carol"},
		{Favorite{Name: "Dan"}, "Dan"},
		{Favorite{Name: "Erin"}, "Erin"},
		{Favorite{URI: "sip:x@example.com"}, "sip:x@example.com"},
	} {
		if got := favoriteLabel(tc.f, states); got != tc.want {
			t.Errorf("favoriteLabel(%+v): got %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestBuildViewVoicemail(t *testing.T) {
	t.Parallel()
	st := phone.Status{Accounts: []phone.AccountInfo{{ID: "w", AOR: "sip:a@example.com", State: phone.RegRegistered,
		VoicemailURI: "sip:*97@example.com", Voicemail: &phone.MessageCount{New: 2, Old: 1}}}}
	v := buildView(st, time.Now(), func(string) string { return "" })
	if v.vm.title() != "trayphone (2)" || !strings.Contains(v.tooltip, "Voicemail: 2 new") {
		t.Errorf("got title %q, tooltip %q; want trayphone (2) and a voicemail line", v.vm.title(), v.tooltip)
	}
}
