package portaudio

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseServerString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []serverAddr
	}{
		{"unix:/run/user/1000/pulse/native", []serverAddr{{"unix", "/run/user/1000/pulse/native"}}},
		{"/tmp/pulse.sock", []serverAddr{{"unix", "/tmp/pulse.sock"}}},
		{"tcp:localhost", []serverAddr{{"tcp", "localhost:4713"}}},
		{"tcp4:127.0.0.1:4000", []serverAddr{{"tcp4", "127.0.0.1:4000"}}},
		{"tcp6:[::1]", []serverAddr{{"tcp6", "[::1]:4713"}}},
		{"tcp6:[::1]:4000", []serverAddr{{"tcp6", "[::1]:4000"}}},
		{"{thishost}unix:/a {otherhost}unix:/b x11:foo unix: tcp:h:1", []serverAddr{{"unix", "/a"}, {"tcp", "h:1"}}},
		{"{unterminated unix:/c", []serverAddr{{"unix", "/c"}}},
		{"", nil},
	} {
		if got := parseServerString(tc.in, "thishost"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseServerString(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseServerString(f *testing.F) {
	f.Add("unix:/run/user/1000/pulse/native tcp:localhost {h}tcp6:[::1]:4713")
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range parseServerString(s, "h") {
			if a.addr == "" || strings.ContainsAny(a.addr, " \t\n") {
				t.Errorf("parseServerString(%q) gave address %q", s, a.addr)
			}
		}
	})
}
