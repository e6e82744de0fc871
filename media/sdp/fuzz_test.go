package sdp

import (
	"net/netip"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes. Parse must not panic; what it accepts must be a usable
// audio stream, and an answer built from it must parse again. Seeds are the descriptions of the
// table tests plus the corpus in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{baresipOffer, linphoneOffer, rfc4317Offer, oldHold} {
		f.Add(crlf(s))
	}
	local := AnswerParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.50"), Port: 30000, Formats: ours}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		a := s.Audio
		if a.Port <= 0 || a.Port > 65535 || !a.Addr.IsValid() || a.Direction == Unknown {
			t.Fatalf("Parse accepted an unusable stream: %+v", a)
		}
		for _, f := range a.Formats {
			if f.PayloadType > 127 || f.Name == "" || f.ClockRate <= 0 || f.Channels <= 0 {
				t.Fatalf("Parse returned a bad format: %+v", f)
			}
		}
		answer, _, err := Answer(s, local)
		if err != nil {
			return
		}
		back, err := Parse(answer)
		if err != nil {
			t.Fatalf("Parse(Answer(...)) = %v\noffer:\n%q\nanswer:\n%q", err, b, answer)
		}
		if back.Audio.Port != local.Port || len(back.streams) != len(s.streams) {
			t.Fatalf("answer has port %d and %d streams, want %d and %d\n%q",
				back.Audio.Port, len(back.streams), local.Port, len(s.streams), answer)
		}
	})
}
