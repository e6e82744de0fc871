package callmgr

import "testing"

func TestTargetVia(t *testing.T) {
	favs := map[string]string{"boss": "1234", "lab": "sip:lab@10.1.1.1"}
	tests := []struct{ in, want string }{
		{"bob", "sip:bob@example.org"},
		{"+49 30 1234-56", ""},
		{"tel:+49-30-123456", "sip:+4930123456@example.org;user=phone"},
		{"boss", "sip:1234@example.org"},
		{"lab", "sip:lab@10.1.1.1"},
		{"sip:carol@other.example", "sip:carol@other.example"},
		{"dave@other.example", "sip:dave@other.example"},
	}
	for _, tc := range tests {
		u, err := targetVia(tc.in, favs, "example.org")
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: got %s, want an error", tc.in, u.String())
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("%q: got %s, %v; want %s", tc.in, u.String(), err, tc.want)
		}
	}
}
