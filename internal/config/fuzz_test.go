package config

import "testing"

// FuzzParse checks that Parse never panics and that every error it returns is a *Error whose
// problems have messages.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte("[sip\n"))
	f.Add([]byte("[[account]]\npassword = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("config.toml", data, opts)
		if err == nil {
			if c == nil {
				t.Fatal("got nil config and nil error")
			}
			return
		}
		ce, ok := err.(*Error)
		if !ok {
			t.Fatalf("got error type %T, want *Error", err)
		}
		for _, p := range ce.Problems {
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}
	})
}
