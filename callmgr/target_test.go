package callmgr

import (
	"strings"
	"testing"
)

func TestResolveTarget(t *testing.T) {
	t.Parallel()
	favs := map[string]string{"bob": "sip:bob@192.0.2.7", "test": "echo", "alias": "bob", "loop": "loop", "Front desk": "sip:desk@192.0.2.8"}
	cases := []struct {
		in, want string
		echo     bool
		err      string
	}{
		{in: "sip:carol@192.0.2.9:5070", want: "sip:carol@192.0.2.9:5070"},
		{in: "SIP:carol@example.org", want: "sip:carol@example.org"},
		{in: "sips:carol@example.org", want: "sips:carol@example.org"},
		{in: "carol@192.0.2.9", want: "sip:carol@192.0.2.9"},
		{in: "192.0.2.9", want: "sip:192.0.2.9"},
		{in: "192.0.2.9:5080", want: "sip:192.0.2.9:5080"},
		{in: " bob ", want: "sip:bob@192.0.2.7"},
		{in: "alias", want: "sip:bob@192.0.2.7"},
		{in: "Front desk", want: "sip:desk@192.0.2.8"},
		{in: " Front desk ", want: "sip:desk@192.0.2.8"},
		{in: "echo", echo: true},
		{in: "ECHO", echo: true},
		{in: "test", echo: true},
		{in: "", err: "nothing to call"},
		{in: "carol", err: "not a favorite"},
		{in: "5551234", err: "needs a SIP account"},
		{in: "tel:+15551234", err: "needs a SIP account"},
		{in: "loop", err: "not a favorite"},
		{in: "sip:", err: "has no host"},
	}
	for _, c := range cases {
		uri, echo, err := resolveTarget(c.in, favs)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("resolveTarget(%q): err %v, want %q", c.in, err, c.err)
			}
		case err != nil:
			t.Errorf("resolveTarget(%q): %v", c.in, err)
		case echo != c.echo:
			t.Errorf("resolveTarget(%q): echo %v, want %v", c.in, echo, c.echo)
		case !c.echo && !strings.EqualFold(uri.String(), c.want):
			t.Errorf("resolveTarget(%q) = %s, want %s", c.in, uri.String(), c.want)
		}
	}
}

func TestStatusReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code int
		want string
	}{
		{404, "sip:x@y does not exist (404 Not Found)"},
		{408, "sip:x@y did not answer in time (408)"},
		{480, "sip:x@y is not available right now (480)"},
		{486, "sip:x@y is busy (486)"},
		{488, "sip:x@y cannot use any of our audio codecs (488)"},
		{603, "sip:x@y declined the call (603)"},
		{407, "sip:x@y requires a login (407): configure a SIP account"},
		{500, "call to sip:x@y failed: 500 Not Found"},
	}
	for _, c := range cases {
		if got := statusReason("sip:x@y", c.code, "Not Found"); got != c.want {
			t.Errorf("statusReason(%d) = %q, want %q", c.code, got, c.want)
		}
	}
}
