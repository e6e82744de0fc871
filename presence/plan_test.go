package presence_test

import (
	"testing"

	"trayphone/account"
	"trayphone/internal/config"
	"trayphone/internal/sipua"
	"trayphone/presence"
)

// TestSubscriptionSpecs checks what the phone subscribes to: every account's voicemail box, and
// the favorites whose SIP address is in an account's domain (not numbers, not other domains).
func TestSubscriptionSpecs(t *testing.T) {
	t.Parallel()
	var specs []account.Spec
	for _, c := range []config.Account{
		{ID: "home", AOR: "sip:alice@home.example"},
		{ID: "work", AOR: "sip:a.smith@work.example"},
	} {
		s, err := account.FromConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	ua, err := sipua.New(sipua.Config{Listen: "127.0.0.1:0", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	set := account.NewSet(specs, ua, func(string) (string, error) { return "", nil })
	favs := map[string]string{
		"Front desk": "sip:desk@work.example",
		"Mum":        "sip:mum@home.example",
		"Elsewhere":  "sip:bob@other.example",
		"Pizza":      "tel:+15551234",
		"Echo":       "echo",
	}
	got, watched := presence.Plan(specs, set.AccountFor, favs)
	type row struct {
		kind           presence.Kind
		account, label string
	}
	var rows []row
	for _, s := range got {
		l := s.Name
		if s.Kind == presence.KindMWI {
			l = s.Target.String()
		}
		rows = append(rows, row{s.Kind, s.Account, l})
	}
	want := []row{
		{presence.KindMWI, "home", "sip:alice@home.example"},
		{presence.KindMWI, "work", "sip:a.smith@work.example"},
		{presence.KindBLF, "work", "Front desk"},
		{presence.KindBLF, "home", "Mum"},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("subscription %d: got %+v, want %+v", i, rows[i], want[i])
		}
	}
	if len(watched) != 2 || watched[0].Name != "Front desk" || watched[0].State != "unknown" || watched[1].Account != "home" {
		t.Errorf("watched: got %+v", watched)
	}
}
