package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/media"
)

func TestParseDTMFRelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want rune
		ok   bool
	}{
		{"Signal=5\r\nDuration=160\r\n", '5', true},
		{"Signal=#\r\nDuration=100\r\n", '#', true},
		{"signal = *\nduration=250\n", '*', true},
		{"Duration=160\r\nSignal=A\r\n", 'A', true},
		{"Signal=d\r\n", 'D', true},
		{"Signal=10\r\n", '*', true},
		{"Signal=11\r\n", '#', true},
		{"Signal=\r\n", 0, false},
		{"Signal=12\r\n", 0, false},
		{"Signal=x\r\n", 0, false},
		{"Duration=160\r\n", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDTMFRelay([]byte(tt.body))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseDTMFRelay(%q): got %q, %v; want %q, %v", tt.body, got, ok, tt.want, tt.ok)
		}
	}
	for _, d := range media.DTMFKeys {
		if got, ok := parseDTMFRelay(dtmfRelayBody(d)); !ok || got != d {
			t.Errorf("round trip of %q: got %q, %v", d, got, ok)
		}
	}
}

func FuzzParseDTMFRelay(f *testing.F) {
	for _, s := range []string{"Signal=5\r\nDuration=160\r\n", "signal = *\n", "Signal=11", "=", "Signal"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := parseDTMFRelay(b)
		if ok && !strings.ContainsRune(media.DTMFKeys, d) {
			t.Fatalf("parseDTMFRelay(%q) = %q, not a DTMF key", b, d)
		}
	})
}

// waitDigits collects DTMF events on c until it has n digits.
func (c *core) waitDigits(n int, timeout time.Duration) string {
	c.t.Helper()
	var got string
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case ev := <-c.events:
			if ev.Type == phone.EventDTMF {
				got += ev.Digit
			}
		case <-deadline:
			c.t.Fatalf("%s: got DTMF %q within %s, want %d digits", c.name, got, timeout, n)
		}
	}
	return got
}

// TestDTMFLoopback sends digits between two cores, as RFC 4733 events and as SIP INFO.
func TestDTMFLoopback(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{codecs: []media.Codec{media.PCMU}})
	b := startCore(t, "bob", coreOpts{})
	established(t, a, b)
	if err := a.mgr.SendDTMF(ctx(t), "", "12x"); err == nil {
		t.Error("SendDTMF(12x): no error")
	}
	if err := a.mgr.SendDTMF(ctx(t), "", "159#*0"); err != nil {
		t.Fatal(err)
	}
	if got := b.waitDigits(6, 5*time.Second); got != "159#*0" {
		t.Errorf("RFC 4733: bob got %q, want %q", got, "159#*0")
	}
	// The SIP INFO fallback, as used when the far end offers no telephone-event.
	if err := b.mgr.do(ctx(t), func() error {
		c, err := b.mgr.pick("", func(c *call) bool { return c.answered() }, "answered")
		if err != nil {
			return err
		}
		return b.mgr.sendDTMFInfo(c, "4D#")
	}); err != nil {
		t.Fatal(err)
	}
	if got := a.waitDigits(3, 5*time.Second); got != "4D#" {
		t.Errorf("SIP INFO: alice got %q, want %q", got, "4D#")
	}
}

// TestDTMFBaresip sends DTMF to a real baresip, which must recognise it (CALL_DTMF_START), and
// has baresip send DTMF to us (its sndcode command), over G.711 with telephone-event.
func TestDTMFBaresip(t *testing.T) {
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004, Codecs: []string{"pcmu"}})
	a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{media.PCMU}})
	ci, err := a.mgr.Call(ctx(t), bob.URI(), "")
	if err != nil {
		t.Fatal(err)
	}
	a.waitState(10*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	dtmfWithBaresip(t, a, bob, ci.ID)
	if err := a.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
}

// dtmfWithBaresip sends "19#*" on call id and checks that baresip recognises each digit, then has
// baresip send "5#" and checks that both reach a's events.
func dtmfWithBaresip(t *testing.T, a *core, bob *baresip.Baresip, id string) {
	t.Helper()
	const digits = "19#*"
	if err := a.mgr.SendDTMF(ctx(t), id, digits); err != nil {
		t.Fatal(err)
	}
	var got string
	for range digits {
		ev, err := bob.WaitEvent(baresip.CallDTMFStart, 5*time.Second)
		if err != nil {
			t.Fatalf("baresip recognised %q of %q: %v", got, digits, err)
		}
		got += ev.Param
	}
	if got != digits {
		t.Errorf("baresip recognised %q, want %q", got, digits)
	}
	for _, d := range "5#" {
		if _, err := bob.Command("sndcode", string(d)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if got := a.waitDigits(2, 5*time.Second); got != "5#" {
		t.Errorf("from baresip: got %q, want %q", got, "5#")
	}
}
