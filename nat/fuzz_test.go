package nat

import (
	"net/netip"
	"testing"
)

// FuzzParseResponse feeds arbitrary datagrams to the STUN response parser and the demultiplexer:
// they must never panic, and whatever parses must carry a valid mapped address.
func FuzzParseResponse(f *testing.F) {
	f.Add(rfc5769IPv4Response)
	f.Add(BindingIndication())
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, ok := ParseResponse(b)
		if ok && !r.Mapped.IsValid() {
			t.Errorf("parsed %x with an invalid mapped address", b)
		}
		p := NewProber(func([]byte, netip.AddrPort) error { return nil }, nil)
		if p.Handle(b, netip.MustParseAddrPort("192.0.2.1:3478")) != IsSTUN(b) {
			t.Errorf("Handle and IsSTUN disagree on %x", b)
		}
	})
}
