package control

import (
	"strings"
	"testing"

	"trayphone/internal/phone"
)

func TestWriteStatusNAT(t *testing.T) {
	for _, c := range []struct {
		nat  *phone.NATInfo
		want []string
	}{
		{nil, nil},
		{&phone.NATInfo{STUNServer: "stun.example.org:3478", Public: "203.0.113.7:5060", Type: "symmetric", PortMapping: "NAT-PMP", Relay: "198.51.100.1:49152"},
			[]string{"public address: 203.0.113.7:5060 (NAT: symmetric)", "port mapping: NAT-PMP gateway mapped ports", "TURN relay: 198.51.100.1:49152"}},
		{&phone.NATInfo{STUNServer: "stun.example.org:3478", Error: "no answer from the STUN server"},
			[]string{"public address: unknown (no answer from the STUN server)", "port mapping: no UPnP or NAT-PMP gateway mapped ports"}},
		{&phone.NATInfo{STUNServer: "turn.example.org:3478", Public: "203.0.113.7:5060", Type: "unknown", Relay: "198.51.100.1:49152",
			RelayReason: "in use: the NAT maps per destination: ...", Detected: []string{"the NAT maps per destination: ..."}, Watch: "network: netlink; wake-ups: logind"},
			[]string{"detected: the NAT maps per destination: ...", "TURN relay: 198.51.100.1:49152 (in use: the NAT maps per destination: ...)",
				"network watch: network: netlink; wake-ups: logind"}},
		{&phone.NATInfo{Type: "unknown", RelayReason: "not in use: no [turn] server is configured", Watch: "network: netlink; wake-ups: clock jumps"},
			[]string{"TURN relay: not in use: no [turn] server is configured", "network watch: network: netlink; wake-ups: clock jumps"}},
	} {
		var b strings.Builder
		if err := writeStatus(&b, phone.Status{PID: 1, NAT: c.nat}); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("status output:\n%s\nwant a line %q", b.String(), w)
			}
		}
		if (c.nat == nil || c.nat.STUNServer == "") && strings.Contains(b.String(), "public address") {
			t.Errorf("status without STUN mentions a public address:\n%s", b.String())
		}
	}
}
