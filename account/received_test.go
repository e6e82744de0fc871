package account

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
)

// TestServeIgnoresImplausibleReceived: a REGISTER answer whose Via names an address we cannot be
// reached at (unspecified, multicast, broadcast, loopback from a registrar elsewhere, the other
// address family) must not become our Contact: calls would go there.
func TestServeIgnoresImplausibleReceived(t *testing.T) {
	for _, recv := range []string{"0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1", "2001:db8::1"} {
		t.Run(recv, func(t *testing.T) {
			h := newHarness(t, func(n int, req *sip.Request) (*sip.Response, error) {
				res := ok(req, 3600)
				if authOf(req) == nil {
					res = challenge(req, "n", false, false)
				}
				res.RemoveHeader("Via")
				via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "192.168.1.10", Port: 5080, Params: sip.NewParams()}
				via.Params.Add("branch", "z9hG4bK1")
				via.Params.Add("received", recv)
				via.Params.Add("rport", "40123")
				res.AppendHeader(via)
				return res, nil
			})
			h.state(phone.RegRegistered)
			if o, _ := h.reg.Outbound(); o.Contact.Host != "192.168.1.10" {
				t.Errorf("received=%s: calls would use Contact %s, want 192.168.1.10", recv, o.Contact.String())
			}
		})
	}
}
