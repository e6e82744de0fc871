package sipua

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzParseSIP feeds arbitrary bytes to the SIP parser every datagram and TCP stream reaching the
// phone goes through (sipgo's, as its UDP and TCP transports call it: a whole datagram, and a
// stream in two reads), then reads every header the phone uses and builds the answer sipgo's
// server would send. A panic there would end the phone: sipgo's read loops have no recover. The
// seeds are the RFC 4475 torture messages.
func FuzzParseSIP(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rfc4475", "*", "*.dat"))
	if len(files) == 0 {
		f.Fatal("no RFC 4475 messages in testdata/rfc4475")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2))
	}
	parser := sip.NewParser(sip.WithHeadersParsers(headerParsers())) // as New configures it
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		if msg, err := parser.ParseSIP(data); err == nil {
			useMessage(msg)
		}
		stream := parser.NewSIPStream()
		defer stream.Close()
		at := min(int(split), len(data))
		for _, part := range [][]byte{data[:at], data[at:]} {
			if err := stream.ParseSIPStream(part, useMessage); err != nil && err != sip.ErrParseSipPartial {
				break // sipgo closes the connection
			}
		}
	})
}

// useMessage reads what the phone's handlers and sipgo's transaction layer read from a message.
func useMessage(msg sip.Message) {
	_ = msg.String()
	if h := msg.Via(); h != nil {
		_ = h.Value()
	}
	if h := msg.From(); h != nil {
		_ = h.Value()
		_ = h.DisplayName
	}
	if h := msg.To(); h != nil {
		_ = h.Value()
	}
	if h := msg.CSeq(); h != nil {
		_ = h.Value()
	}
	if hs, ok := msg.(interface{ GetHeaders(string) []sip.Header }); ok {
		for _, name := range []string{"Contact", "Route", "Record-Route", "Content-Type", "Max-Forwards",
			"Refer-To", "Replaces", "Reason", "Require", "Supported"} {
			for _, h := range hs.GetHeaders(name) {
				_ = h.Value()
			}
		}
	}
	switch m := msg.(type) {
	case *sip.Request:
		_ = m.Source()
		_ = m.Destination()
		_ = m.Recipient.String()
		_, _ = sip.ServerTxKeyMake(m)
		if m.CallID() != nil && m.Via() != nil && m.From() != nil && m.To() != nil && m.CSeq() != nil {
			_ = sip.NewResponseFromRequest(m, 400, "Bad Request", nil).String()
		}
	case *sip.Response:
		_, _ = sip.ClientTxKeyMake(m)
	}
}
