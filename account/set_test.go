package account

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/config"
)

func testSet(t *testing.T) *Set {
	t.Helper()
	var specs []Spec
	for _, c := range []config.Account{
		{ID: "home", AOR: "sip:alice@home.example", Registrar: "sip:10.0.0.5:5070"},
		{ID: "work", AOR: "sip:a.smith@work.example", OutboundProxy: "sip:10.9.9.9", Transport: "tcp"},
	} {
		s, err := FromConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	return NewSet(specs, &fakeUA{}, func(id string) (string, error) { return id + "-pw", nil })
}

func TestSetOutbound(t *testing.T) {
	s := testSet(t)
	// Outbound never reads the keyring itself: before the registration has read the password,
	// it says so.
	if _, err := s.Outbound(""); err == nil || err.Error() != "account home cannot be used: its password has not been read yet" {
		t.Errorf("before the password is read: %v", err)
	}
	for _, r := range s.Registrations() {
		r.setPassword(r.spec.ID+"-pw", "") // what Serve does once it has read it
	}
	o, err := s.Outbound("")
	if err != nil || o.Account != "home" || o.Password != "home-pw" || o.Domain != "home.example" || o.Transport != "UDP" {
		t.Fatalf("default account: %+v, %v", o, err)
	}
	if o.Route == nil || o.Route.String() != "sip:10.0.0.5:5070;lr" {
		t.Errorf("home route %v, want sip:10.0.0.5:5070;lr", o.Route)
	}
	o, err = s.Outbound("work")
	if err != nil || o.Route.String() != "sip:10.9.9.9;transport=tcp;lr" || o.AuthUser != "a.smith" {
		t.Errorf("work: %+v (route %v), %v", o, o.Route, err)
	}
	if _, err := s.Outbound("nope"); err == nil {
		t.Error("unknown account accepted")
	}
	if o, err := NewSet(nil, &fakeUA{}, nil).Outbound(""); o != nil || err != nil {
		t.Errorf("no accounts: %+v, %v; want nil, nil", o, err)
	}
	for uri, want := range map[string]string{"sip:bob@work.example": "work", "sip:bob@HOME.example:5060": "home", "sip:bob@other.example": ""} {
		var u sip.Uri
		_ = sip.ParseUri(uri, &u)
		if got := s.AccountFor(u); got != want {
			t.Errorf("AccountFor(%s) = %q, want %q", uri, got, want)
		}
	}
}

func TestSetAdmit(t *testing.T) {
	s := testSet(t)
	tok := s.Registrations()[1].Token()
	tests := []struct {
		name, ruri, src, want string
		ok                    bool
	}{
		{"token of work", "sip:a.smith@192.168.1.10:5080;" + TokenParam + "=" + tok, "198.51.100.1:5060", "work", true},
		{"from the home registrar", "sip:alice@192.168.1.10:5080", "10.0.0.5:5070", "home", true},
		{"from the work proxy on the default port", "sip:x@192.168.1.10", "10.9.9.9:5060", "work", true},
		{"registrar IP, other port", "sip:alice@192.168.1.10:5080", "10.0.0.5:5060", "", false},
		{"scanner", "sip:100@192.168.1.10:5080", "203.0.113.66:5070", "", false},
		{"wrong token", "sip:alice@192.168.1.10:5080;" + TokenParam + "=deadbeef", "203.0.113.66:5070", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var u sip.Uri
			if err := sip.ParseUri(tc.ruri, &u); err != nil {
				t.Fatal(err)
			}
			req := sip.NewRequest(sip.INVITE, u)
			req.SetSource(tc.src)
			id, ok := s.Admit(req)
			if id != tc.want || ok != tc.ok {
				t.Errorf("Admit: got %q, %v; want %q, %v", id, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestVoicemailURI checks that an account's voicemail setting becomes the URI "Call voicemail"
// dials: a number goes to the account's domain, a SIP address is kept, and the snapshot has it.
func TestVoicemailURI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"*97", "sip:*97@example.org:5070"},
		{"sip:vm@pbx.example.net", "sip:vm@pbx.example.net"},
		{"", ""},
	} {
		spec, err := FromConfig(config.Account{ID: "work", AOR: "sip:alice@example.org:5070", Voicemail: tt.in})
		if err != nil {
			t.Fatalf("voicemail %q: %v", tt.in, err)
		}
		if got := spec.voicemailURI(); got != tt.want {
			t.Errorf("voicemail %q: got %q, want %q", tt.in, got, tt.want)
		}
		r := NewRegistration(spec, &fakeUA{}, func() (string, error) { return "", nil })
		if got := r.Info().VoicemailURI; got != tt.want {
			t.Errorf("voicemail %q: snapshot has %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := FromConfig(config.Account{ID: "work", AOR: "sip:alice@example.org", Voicemail: "sip:pbx.example.org"}); err == nil {
		t.Error("voicemail without a user part: got no error")
	}
}
