package control

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"trayphone/internal/phone"
)

// TestStatusPresence checks that status shows each account's voicemail count and the watched
// favorites' lines, as text and in status --json.
func TestStatusPresence(t *testing.T) {
	t.Parallel()
	st := phone.Status{PID: 1,
		Accounts: []phone.AccountInfo{{ID: "work", AOR: "sip:alice@example.org", State: phone.RegRegistered,
			VoicemailURI: "sip:*97@example.org", Voicemail: &phone.MessageCount{New: 2, Old: 8, Waiting: true}}},
		Favorites: []phone.FavoriteState{{Name: "Front desk", URI: "sip:desk@example.org", Account: "work", State: "busy"}}}
	var b bytes.Buffer
	if err := writeStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"voicemail of work: 2 new, 8 old", "Front desk", "sip:desk@example.org", "busy"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status text has no %q:\n%s", want, b.String())
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Accounts []struct {
			Voicemail struct{ New, Old int } `json:"voicemail"`
			URI       string                 `json:"voicemail_uri"`
		} `json:"accounts"`
		Favorites []struct{ Name, State string } `json:"favorites"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 1 || got.Accounts[0].Voicemail.New != 2 || got.Accounts[0].Voicemail.Old != 8 || got.Accounts[0].URI != "sip:*97@example.org" ||
		len(got.Favorites) != 1 || got.Favorites[0].Name != "Front desk" || got.Favorites[0].State != "busy" {
		t.Errorf("status --json: got %s", raw)
	}
}
