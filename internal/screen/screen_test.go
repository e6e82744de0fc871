package screen

import (
	"strings"
	"testing"
	"time"
)

// day returns a local time on a known week: 2026-12-07 is a Monday.
func day(wd time.Weekday, hh, mm int) time.Time {
	return time.Date(2026, 12, 7+(int(wd)+6)%7, hh, mm, 0, 0, time.Local)
}

func TestDecide(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{Match: "anonymous", Action: ActionReject},
		{Match: "+1900*", Action: ActionReject, Where: "config.toml:7"},
		{Match: "sip:*@spam.example", Action: ActionVoicemail},
		{Match: "contact", Action: ActionRing},
		{Match: "unknown", Action: ActionSilent, When: "Mon-Fri 09:00-18:00"},
		{Match: "*@*", Action: ActionVoicemail},
	}
	rs, errs := Compile(rules)
	if errs != nil {
		t.Fatalf("Compile: %v", errs)
	}
	tests := []struct {
		name  string
		c     Caller
		at    time.Time
		index int
		want  Action
		why   string
	}{
		{"anonymous RFC 3323", Caller{URI: "sip:anonymous@anonymous.invalid", Anonymous: true}, day(time.Monday, 10, 0), 0, ActionReject, "withheld"},
		{"premium number", Caller{URI: "sip:+19005551234@carrier.example"}, day(time.Monday, 10, 0), 1, ActionReject, "+19005551234 matches +1900*"},
		{"premium tel", Caller{URI: "tel:+1-900-555-1234"}, day(time.Monday, 10, 0), 1, ActionReject, "config.toml:7"},
		{"not premium", Caller{URI: "sip:+19015551234@carrier.example", Contact: true}, day(time.Monday, 10, 0), 3, ActionRing, "in your contacts"},
		{"spam domain", Caller{URI: "<sip:bot@SPAM.example:5060;transport=tcp>"}, day(time.Monday, 10, 0), 2, ActionVoicemail, "bot@spam.example"},
		{"stranger in office hours", Caller{URI: "sip:carol@example.org"}, day(time.Friday, 17, 59), 4, ActionSilent, "within \"Mon-Fri 09:00-18:00\""},
		{"stranger after hours", Caller{URI: "sip:carol@example.org"}, day(time.Friday, 18, 0), 5, ActionVoicemail, "carol@example.org matches *@*"},
		{"stranger on Saturday", Caller{URI: "sip:carol@example.org"}, day(time.Saturday, 12, 0), 5, ActionVoicemail, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := rs.Decide(tc.c, tc.at)
			if d.Index != tc.index || d.Action != tc.want {
				t.Fatalf("got rule %d action %s (%s), want rule %d action %s", d.Index, d.Action, d.Why, tc.index, tc.want)
			}
			if !strings.Contains(d.Why, tc.why) {
				t.Errorf("got why %q, want it to mention %q", d.Why, tc.why)
			}
		})
	}
	only, _ := Compile([]Rule{{Match: "unknown", Action: ActionReject, When: "Mon-Fri 09:00-18:00"}})
	d := only.Decide(Caller{URI: "sip:carol@example.org"}, day(time.Saturday, 12, 0))
	if want := `no rule matches: the call rings (rule 1 matches the caller but applies only "Mon-Fri 09:00-18:00", and it is Sat 12:00)`; d.Index != -1 || d.Why != want {
		t.Errorf("outside the time: got %d %q, want -1 %q", d.Index, d.Why, want)
	}
	var none *Rules
	if d := none.Decide(Caller{URI: "sip:a@b"}, day(time.Monday, 1, 0)); d.Index != -1 || d.Action != ActionRing {
		t.Errorf("no rules: got %+v, want ring", d)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  Rule
		field string
		msg   string
	}{
		{Rule{Match: "", Action: ActionReject}, "match", "missing"},
		{Rule{Match: "bob", Action: ActionReject}, "match", "neither a SIP address"},
		{Rule{Match: "sip:@host", Action: ActionReject}, "match", "needs a user and a host"},
		{Rule{Match: "sip:a@b;x=y", Action: ActionReject}, "match", "parameters"},
		{Rule{Match: "sip:a b@c", Action: ActionReject}, "match", "space"},
		{Rule{Match: "tel:abc", Action: ActionReject}, "match", "not a phone number"},
		{Rule{Match: "anonymous", Action: "block"}, "action", "unknown action \"block\""},
		{Rule{Match: "anonymous"}, "action", "missing"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "Mon-Fry 09:00-18:00"}, "when", "\"Fry\" is not a day"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "Mon-Fri 9-18"}, "when", "not a time such as 09:00"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "Mon-Fri 09:00-25:00"}, "when", "not a time of day"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "Mon-Fri 24:00-08:00"}, "when", "24:00 only as an end"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "Mon 09:00-09:00"}, "when", "empty"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "09:00-18:00 Mon"}, "when", "days first"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "Mon Tue"}, "when", "days given twice"},
		{Rule{Match: "anonymous", Action: ActionReject, When: "   "}, "when", "not days and a time range"},
	}
	for _, tc := range tests {
		_, errs := Compile([]Rule{{Match: "contact", Action: ActionRing}, tc.rule})
		if len(errs) != 1 {
			t.Errorf("%+v: got %d errors (%v), want 1", tc.rule, len(errs), errs)
			continue
		}
		e := errs[0]
		if e.Index != 1 || e.Field != tc.field || !strings.Contains(e.Error(), tc.msg) || !strings.HasPrefix(e.Error(), "rule 2: ") {
			t.Errorf("%+v: got %q (field %s, index %d), want rule 2, field %s, mentioning %q", tc.rule, e.Error(), e.Field, e.Index, tc.field, tc.msg)
		}
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		when string
		at   time.Time
		want bool
	}{
		{"Mon-Fri 09:00-18:00", day(time.Monday, 9, 0), true},
		{"Mon-Fri 09:00-18:00", day(time.Monday, 8, 59), false},
		{"Mon-Fri 09:00-18:00", day(time.Sunday, 12, 0), false},
		{"Sat,Sun", day(time.Sunday, 0, 0), true},
		{"Sat,Sun", day(time.Monday, 0, 0), false},
		{"Fri-Mon", day(time.Sunday, 3, 0), true},
		{"Fri-Mon", day(time.Wednesday, 3, 0), false},
		{"Mon,Wed-Thu 10:00-11:00", day(time.Thursday, 10, 30), true},
		{"Mon,Wed-Thu 10:00-11:00", day(time.Tuesday, 10, 30), false},
		{"22:00-07:00", day(time.Tuesday, 23, 0), true},
		{"22:00-07:00", day(time.Tuesday, 6, 59), true},
		{"22:00-07:00", day(time.Tuesday, 7, 0), false},
		{"Fri 22:00-02:00", day(time.Saturday, 1, 0), true}, // Friday's night
		{"Fri 22:00-02:00", day(time.Friday, 1, 0), false},  // Thursday's night
		{"Fri 22:00-02:00", day(time.Saturday, 23, 0), false},
		{"mon-fri 00:00-24:00", day(time.Friday, 23, 59), true},
	}
	for _, tc := range tests {
		w, err := ParseWhen(tc.when)
		if err != nil {
			t.Fatalf("ParseWhen(%q): %v", tc.when, err)
		}
		if got := w.Contains(tc.at); got != tc.want {
			t.Errorf("%q contains %s: got %v, want %v", tc.when, tc.at.Format("Mon 15:04"), got, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p, s string
		want bool
	}{
		{"+1900*", "+19005551234", true},
		{"+1900*", "19005551234", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"*@spam.example", "x@spam.example", true},
		{"*@spam.example", "x@spam.example.org", false},
		{"**a", "a", true},
		{"a*a*a*a*a*b", strings.Repeat("a", 5000), false},
	}
	for _, tc := range tests {
		if got := Glob(tc.p, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q): got %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestIsAnonymous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri, name string
		want      bool
	}{
		{"sip:anonymous@anonymous.invalid", "Anonymous", true},
		{"sip:anonymous@example.org", "", true},
		{"sip:Anonymous@example.org", "", true},
		{"sip:restricted@anonymous.invalid", "", true},
		{"sip:example.org", "Anonymous", true},
		{"sip:bob@example.org", "Anonymous", false},
		{"sip:bob@example.org", "", false},
	}
	for _, tc := range tests {
		if got := IsAnonymous(tc.uri, tc.name); got != tc.want {
			t.Errorf("IsAnonymous(%q, %q): got %v, want %v", tc.uri, tc.name, got, tc.want)
		}
	}
}

func TestCallerNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri, want string
		ok        bool
	}{
		{"sip:+1-900-555@x.example", "+1900555", true},
		{"sip:0301234;phone-context=+49@x.example;user=phone", "0301234", true},
		{"tel:+15550100;ext=1", "+15550100", true},
		{"sip:bob@x.example", "", false},
		{"sip:x.example", "", false},
		{"mailto:a@b", "", false},
	}
	for _, tc := range tests {
		got, ok := CallerNumber(tc.uri)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CallerNumber(%q): got %q %v, want %q %v", tc.uri, got, ok, tc.want, tc.ok)
		}
	}
}
