package nat

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

// TestTraversalDecisions: what the STUN server and the registrar see of the SIP socket (port
// 5070) decides whether the NAT maps per destination, and status says why the relay is or is not
// in use.
func TestTraversalDecisions(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, c := range []struct {
		name       string
		stun, seen netip.AddrPort
		turn       TURNConfig
		turnNote   string
		relays     []RelayUse
		perDest    bool
		detected   string // a part of the one detected line, "" for none
		reason     string // a part of the relay reason
	}{
		{name: "nothing known yet", reason: "no [turn] server is configured"},
		{name: "same view", stun: ap("203.0.113.7:5070"), seen: ap("203.0.113.7:5070"),
			detected: "both see the SIP socket at 203.0.113.7:5070", reason: "not in use: no [turn] server is configured"},
		{name: "per destination, no TURN", stun: ap("203.0.113.7:40001"), seen: ap("203.0.113.7:52002"), perDest: true,
			detected: "the NAT maps per destination", reason: "not in use: no [turn] server is configured, and one is needed: the NAT maps per destination"},
		{name: "per destination, TURN idle", stun: ap("203.0.113.7:40001"), seen: ap("203.0.113.7:52002"), perDest: true,
			turn: TURNConfig{Server: "turn.example:3478", Password: "x"}, detected: "per destination", reason: "not in use: no call now; calls will use it"},
		{name: "per destination, TURN without password", stun: ap("203.0.113.7:40001"), seen: ap("203.0.113.7:52002"), perDest: true,
			turn: TURNConfig{Server: "turn.example:3478"}, turnNote: "the TURN server has no password", detected: "per destination", reason: "not in use: the TURN server has no password"},
		{name: "per destination, relayed", stun: ap("203.0.113.7:40001"), seen: ap("203.0.113.7:52002"), perDest: true,
			turn: TURNConfig{Server: "turn.example:3478", Password: "x"}, detected: "per destination",
			relays: []RelayUse{{Addr: ap("198.51.100.1:49152"), Why: "the NAT maps per destination: x"}}, reason: "in use: the NAT maps per destination: x"},
		{name: "port clash after a network change", stun: ap("203.0.113.7:5070"), seen: ap("203.0.113.7:61000"),
			turn: TURNConfig{Server: "turn.example:3478", Password: "x"}, detected: "port-preserving NAT", reason: "nothing says it is needed"},
		{name: "no audio, mid-call", turn: TURNConfig{Server: "turn.example:3478", Password: "x"},
			relays: []RelayUse{{Addr: ap("198.51.100.1:49152"), Why: "no audio arrived in the first 2 s of the call"}}, reason: "in use: no audio arrived"},
	} {
		t.Run(c.name, func(t *testing.T) {
			np := &Traversal{log: slog.New(slog.DiscardHandler), nlog: slog.New(slog.DiscardHandler), sip: SIPSocket{Port: 5070},
				cfg: TraversalConfig{TURN: c.turn, TURNNote: c.turnNote, Seen: func() []netip.AddrPort { return []netip.AddrPort{c.seen} }}}
			if c.stun.IsValid() {
				np.sipPub.Store(&c.stun)
			}
			why, ok := np.NeedRelay()
			if ok != c.perDest {
				t.Errorf("NeedRelay: got %v (%q), want %v", ok, why, c.perDest)
			}
			d := strings.Join(np.detected(), "; ")
			if (c.detected == "") != (d == "") || !strings.Contains(d, c.detected) {
				t.Errorf("detected: got %q, want %q", d, c.detected)
			}
			if r := np.relayReason(c.relays); !strings.Contains(r, c.reason) {
				t.Errorf("relay reason: got %q, want %q", r, c.reason)
			}
		})
	}
}
