package portaudio

import (
	"net"
	"strings"
)

// serverAddr is one place a PulseAudio-protocol sound server may listen.
type serverAddr struct {
	network string // "unix", "tcp", "tcp4" or "tcp6"
	addr    string
}

// parseServerString parses a PulseAudio server string (PULSE_SERVER): addresses separated by
// spaces, each "unix:/path", "/path", "tcp:host:port", "tcp4:..." or "tcp6:...", optionally
// prefixed by "{hostname}" to be used only on that machine. Addresses for other hosts and
// forms it does not know (such as "x11:") are skipped.
// https://www.freedesktop.org/wiki/Software/PulseAudio/Documentation/User/ServerStrings/
func parseServerString(s, hostname string) []serverAddr {
	var out []serverAddr
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "{") {
			host, rest, ok := strings.Cut(f[1:], "}")
			if !ok || host != hostname {
				continue
			}
			f = rest
		}
		var a serverAddr
		switch {
		case strings.HasPrefix(f, "/"):
			a = serverAddr{"unix", f}
		case strings.HasPrefix(f, "unix:"):
			a = serverAddr{"unix", f[len("unix:"):]}
		case strings.HasPrefix(f, "tcp4:"):
			a = serverAddr{"tcp4", f[len("tcp4:"):]}
		case strings.HasPrefix(f, "tcp6:"):
			a = serverAddr{"tcp6", f[len("tcp6:"):]}
		case strings.HasPrefix(f, "tcp:"):
			a = serverAddr{"tcp", f[len("tcp:"):]}
		default:
			continue
		}
		if a.addr == "" {
			continue
		}
		if a.network != "unix" {
			if _, _, err := net.SplitHostPort(a.addr); err != nil {
				a.addr = net.JoinHostPort(strings.Trim(a.addr, "[]"), "4713") // the protocol's default port
			}
		}
		out = append(out, a)
	}
	return out
}
