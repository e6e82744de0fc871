package callmgr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// EchoTarget is the name of the built-in echo test.
const EchoTarget = "echo"

// errNeedsAccount is returned for targets that only a SIP account can reach.
var errNeedsAccount = errors.New("needs a SIP account")

// resolveTarget turns what the user typed (a favorite name, a SIP or tel URI, user@host, an IP, or
// "echo") into a SIP URI, or says in plain words why it cannot. It is pure.
func resolveTarget(target string, favorites map[string]string) (uri sip.Uri, echo bool, err error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return uri, false, errors.New("nothing to call: give a SIP address like sip:bob@192.168.1.20, a favorite name or \"echo\"")
	}
	for depth := 0; depth < 4; depth++ {
		fav, ok := favorites[t]
		if !ok {
			break
		}
		t = strings.TrimSpace(fav)
	}
	if strings.EqualFold(t, EchoTarget) {
		return uri, true, nil
	}
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "tel:"):
		return uri, false, fmt.Errorf("cannot call %s: telephone numbers %w", t, errNeedsAccount)
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
	case strings.Contains(t, "@"):
		t = "sip:" + t
	default:
		if h := hostOnly(t); h != "" {
			t = "sip:" + t
		} else {
			return uri, false, fmt.Errorf("cannot call %q: it is not a favorite, and a bare name or number %w; use sip:user@host for a direct call", target, errNeedsAccount)
		}
	}
	if err := sip.ParseUri(t, &uri); err != nil {
		return uri, false, fmt.Errorf("cannot call %q: not a valid SIP address: %v", target, err)
	}
	if uri.Host == "" {
		return uri, false, fmt.Errorf("cannot call %q: the address has no host", target)
	}
	return uri, false, nil
}

// hostOnly returns t if it looks like an IP address or IP:port (a direct call with no user).
func hostOnly(t string) string {
	if _, err := netip.ParseAddr(t); err == nil {
		return t
	}
	if _, err := netip.ParseAddrPort(t); err == nil {
		return t
	}
	return ""
}

// statusReason says in plain words why an INVITE failed with a final response.
func statusReason(remote string, code int, reason string) string {
	switch code {
	case 404, 604:
		return fmt.Sprintf("%s does not exist (%d %s)", remote, code, reason)
	case 408:
		return fmt.Sprintf("%s did not answer in time (408)", remote)
	case 480:
		return fmt.Sprintf("%s is not available right now (480)", remote)
	case 486, 600:
		return fmt.Sprintf("%s is busy (%d)", remote, code)
	case 487:
		return "call cancelled"
	case 488, 606:
		return fmt.Sprintf("%s cannot use any of our audio codecs (%d)", remote, code)
	case 603:
		return fmt.Sprintf("%s declined the call (603)", remote)
	case 401, 407:
		return fmt.Sprintf("%s requires a login (%d): configure a SIP account", remote, code)
	case 403:
		return fmt.Sprintf("%s refused the call (403 %s)", remote, reason)
	case 503:
		return fmt.Sprintf("%s is out of service (503)", remote)
	}
	return fmt.Sprintf("call to %s failed: %d %s", remote, code, reason)
}
