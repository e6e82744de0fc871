package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseScreen(t *testing.T) {
	t.Parallel()
	doc := "# rules\n[[screen]]\nmatch = \"anonymous\"\naction = \"reject\"\n\n[[screen]]\nmatch = \"+1900*\"\naction = \"voicemail\"\nwhen = \"Mon-Fri 09:00-18:00\"\n\n[voicemail]\nenabled = true\nanswer_after = 15\nmax_length = 60\ngreeting = \"/x/greet.wav\"\n"
	c, err := Parse("config.toml", []byte(doc), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []ScreenRule{{Match: "anonymous", Action: "reject", Line: 2}, {Match: "+1900*", Action: "voicemail", When: "Mon-Fri 09:00-18:00", Line: 6}}
	if len(c.Screen) != 2 || c.Screen[0] != want[0] || c.Screen[1] != want[1] {
		t.Errorf("got %+v, want %+v", c.Screen, want)
	}
	if v := c.Voicemail; !v.Enabled || v.AnswerAfter != 15 || v.MaxLength != 60 || v.Greeting != "/x/greet.wav" {
		t.Errorf("got voicemail %+v", v)
	}
}

func TestParseScreenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
	}{
		{"bad pattern", "[[screen]]\nmatch = \"anonymous\"\naction = \"reject\"\n\n[[screen]]\nmatch = \"bob smith\"\naction = \"reject\"\n",
			`config.toml:6: screen.match: rule 2: pattern "bob smith" has a space or control character`},
		{"bad time", "[[screen]]\nmatch = \"unknown\"\naction = \"silent\"\nwhen = \"Mon-Fri 09:00-18:60\"\n",
			`config.toml:4: screen.when: rule 1: "Mon-Fri 09:00-18:60": "18:60" is not a time of day from 00:00 to 23:59 (24:00 only as an end)`},
		{"bad action", "[[screen]]\nmatch = \"unknown\"\naction = \"block\"\n",
			`config.toml:3: screen.action: rule 1: unknown action "block" (want ring, reject, voicemail or silent)`},
		{"missing action", "[[screen]]\nmatch = \"unknown\"\n",
			`config.toml:1: screen.action: rule 1: missing; want one of ring, reject, voicemail, silent`},
		{"unknown key", "[[screen]]\nmatch = \"unknown\"\naction = \"ring\"\ntime = \"x\"\n",
			`config.toml:4: unknown setting "screen.time"`},
		{"voicemail after ring timeout", "[sip]\nring_timeout = 10\n[voicemail]\nenabled = true\nanswer_after = 10\n",
			`config.toml:5: voicemail.answer_after: 10 s is not shorter than sip.ring_timeout (10 s): the call would end before the answering machine takes it`},
		{"voicemail greeting", "[voicemail]\ngreeting = \"hello.mp3\"\n",
			`config.toml:2: voicemail.greeting: "hello.mp3" is not a .wav file`},
		{"voicemail max length", "[voicemail]\nmax_length = -1\n",
			`config.toml:2: voicemail.max_length: -1 is not a number of seconds from 1 to 3600`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("config.toml", []byte(tc.doc), LoadOptions{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestAddScreenRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, before, after string
	}{
		{"before the first rule, comments kept",
			"# my phone\ndnd = false # quiet?\n\n# screening\n[[screen]]\nmatch = \"anonymous\" # no hidden numbers\naction = \"reject\"\n",
			"# my phone\ndnd = false # quiet?\n\n# screening\n# blocked\n[[screen]]\nmatch = \"sip:spam@x.example\"\naction = \"reject\"\n\n[[screen]]\nmatch = \"anonymous\" # no hidden numbers\naction = \"reject\"\n"},
		{"no rules yet: at the end", "[sip]\nuser = \"alice\"",
			"[sip]\nuser = \"alice\"\n\n# blocked\n[[screen]]\nmatch = \"sip:spam@x.example\"\naction = \"reject\"\n"},
		{"no file", "", "# blocked\n[[screen]]\nmatch = \"sip:spam@x.example\"\naction = \"reject\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if tc.before != "" {
				if err := os.WriteFile(path, []byte(tc.before), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := AddScreenRule(path, ScreenRule{Match: "sip:spam@x.example", Action: "reject"}, "blocked", LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.after {
				t.Errorf("got\n%s\nwant\n%s", got, tc.after)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("got mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestAddScreenRuleRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	doc := "[sip]\nlisen = 1\n"
	_ = os.WriteFile(bad, []byte(doc), 0o600)
	err := AddScreenRule(bad, ScreenRule{Match: "sip:a@b.example", Action: "reject"}, "", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "fix them first") || !strings.Contains(err.Error(), "lisen") {
		t.Errorf("got %v, want the file's problems", err)
	}
	if got, _ := os.ReadFile(bad); string(got) != doc {
		t.Errorf("the file was changed: %q", got)
	}
	inline := filepath.Join(dir, "inline.toml")
	doc = "screen = [{match = \"anonymous\", action = \"reject\"}]\n"
	_ = os.WriteFile(inline, []byte(doc), 0o600)
	err = AddScreenRule(inline, ScreenRule{Match: "sip:a@b.example", Action: "reject"}, "", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "add it by hand") {
		t.Errorf("got %v, want a refusal that says to add it by hand", err)
	}
	if got, _ := os.ReadFile(inline); string(got) != doc {
		t.Errorf("the file was changed: %q", got)
	}
	// A pattern with quotes and backslashes is written as a valid TOML string.
	odd := filepath.Join(dir, "odd.toml")
	err = AddScreenRule(odd, ScreenRule{Match: `sip:"a\b"@x.example`, Action: "reject"}, "", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "problems") && !strings.Contains(err.Error(), "by hand") {
		t.Errorf("got %v, want a refusal (the pattern has brackets/quotes)", err)
	}
}
