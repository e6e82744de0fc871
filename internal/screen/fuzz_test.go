package screen

import (
	"testing"
	"time"
)

// FuzzRule throws arbitrary match patterns, when values and callers at the rule compiler and
// matcher: neither may panic, and a rule that compiles must decide within its own rules.
func FuzzRule(f *testing.F) {
	f.Add("+1900*", "Mon-Fri 09:00-18:00", "sip:+19005551234@x.example", int64(0))
	f.Add("sip:*@spam.example", "22:00-07:00", "<sip:bob@spam.example:5060>", int64(3600))
	f.Add("anonymous", "Fri-Mon", "sip:anonymous@anonymous.invalid", int64(86400*3))
	f.Add("tel:+49*", "Sat,Sun 00:00-24:00", "tel:+49301234", int64(-1))
	f.Add("*@*", "Mon,Wed-Thu 10:00-11:00", "sip:[::1]:5060", int64(42))
	f.Fuzz(func(t *testing.T, match, when, uri string, secs int64) {
		rs, errs := Compile([]Rule{{Match: match, Action: ActionReject, When: when}})
		if errs != nil {
			for _, e := range errs {
				if e.Error() == "" {
					t.Fatal("empty error")
				}
			}
			return
		}
		at := time.Unix(1796601600+secs%(86400*14), 0).UTC()
		for _, anon := range []bool{false, true} {
			d := rs.Decide(Caller{URI: uri, Anonymous: anon}, at)
			if d.Index != -1 && d.Index != 0 {
				t.Fatalf("got rule index %d of 1", d.Index)
			}
			if d.Why == "" {
				t.Fatal("decision without a reason")
			}
		}
		_, _ = CallerNumber(uri)
		_ = IsAnonymous(uri, match)
	})
}
