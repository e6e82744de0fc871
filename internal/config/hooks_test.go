package config

import (
	"slices"
	"strings"
	"testing"
)

func TestHooksAndRecordCalls(t *testing.T) {
	c, err := loadString(t, `[audio]
record_calls = true

[hooks]
incoming = ["/usr/local/bin/crm-lookup", "--number"]
missed = ["notify-send", "missed call"]
timeout = 5
`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Audio.RecordCalls {
		t.Error("audio.record_calls = true not read")
	}
	if got := c.Hooks.Command("incoming"); !slices.Equal(got, []string{"/usr/local/bin/crm-lookup", "--number"}) {
		t.Errorf("incoming hook %q", got)
	}
	if got := c.Hooks.Command("missed"); !slices.Equal(got, []string{"notify-send", "missed call"}) {
		t.Errorf("missed hook %q", got)
	}
	if c.Hooks.Command("ended") != nil || c.Hooks.Timeout != 5 {
		t.Errorf("ended %q, timeout %d", c.Hooks.Command("ended"), c.Hooks.Timeout)
	}
	if d, _ := loadString(t, ""); d.Audio.RecordCalls {
		t.Error("record_calls is on by default, want off")
	}
}

func TestHooksRefused(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[hooks]\nincoming = []\n", "hooks.incoming"},
		{"[hooks]\nended = [\"\"]\n", "first element must be the program"},
		{"[hooks]\nanswered = [\"notify-send hello $REMOTE\"]\n", "separate list elements"},
		{"[hooks]\nmissed = \"notify-send\"\n", "hooks.missed"},
		{"[hooks]\ntimeout = -1\n", "hooks.timeout"},
		{"[hooks]\nringing = [\"x\"]\n", "hooks.ringing"},
		{"[hooks]\nincoming = [\"x\", \"a\\u0007b\"]\n", "control character"},
	} {
		_, err := loadString(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.text, err, tc.want)
		}
	}
}

func TestForwardConfig(t *testing.T) {
	c, err := loadString(t, "[forward]\nmode = \"noanswer\"\ntarget = \"sip:desk@example.org\"\nafter = 20\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Forward != (Forward{Mode: "noanswer", Target: "sip:desk@example.org", After: 20}) {
		t.Errorf("forward %+v", c.Forward)
	}
	for _, tc := range []struct{ text, want string }{
		{"[forward]\nmode = \"sometimes\"\ntarget = \"sip:x@y\"\n", "forward.mode"},
		{"[forward]\nmode = \"always\"\n", "forward.target"},
		{"[forward]\nmode = \"noanswer\"\ntarget = \"sip:x@y\"\n", "forward.after"},
	} {
		if _, err := loadString(t, tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %s", tc.text, err, tc.want)
		}
	}
}

func TestAutoAnswerConfig(t *testing.T) {
	c, err := loadString(t, "[[account]]\nid = \"work\"\naor = \"sip:alice@example.org\"\n\n[autoanswer]\naccounts = [\"work\"]\ncallers = [\"sip:mum@example.org\", \"+44 20 7946 0018\"]\nafter = 3\nintercom = [\"door@example.org\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if a := c.AutoAnswer; a.After != 3 || len(a.Callers) != 2 || a.Accounts[0] != "work" || a.Intercom[0] != "door@example.org" {
		t.Errorf("autoanswer %+v", a)
	}
	for _, tc := range []struct{ text, want string }{
		{"[autoanswer]\naccounts = [\"nosuch\"]\n", "autoanswer.accounts"},
		{"[autoanswer]\nafter = -1\n", "autoanswer.after"},
		{"[autoanswer]\nintercom = [\"\"]\n", "autoanswer.intercom"},
	} {
		if _, err := loadString(t, tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %s", tc.text, err, tc.want)
		}
	}
}
