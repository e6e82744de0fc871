package callmgr

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/testenv"
	"trayphone/presence"
)

// notifyMsg is an unsolicited message-summary NOTIFY to the phone at dst, from the socket at src.
func notifyMsg(src, dst netip.AddrPort, n int, ctype, body string) []byte {
	return []byte(fmt.Sprintf("NOTIFY sip:alice@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-mwi-%d;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:vm@%s>;tag=vm%d\r\n"+
		"To: <sip:alice@%s>\r\n"+
		"Call-ID: mwi-%d@test\r\n"+
		"CSeq: %d NOTIFY\r\n"+
		"Contact: <sip:vm@%s>\r\n"+
		"Event: message-summary\r\n"+
		"Subscription-State: active\r\n"+
		"Content-Type: %s\r\n"+
		"Content-Length: %d\r\n\r\n%s", dst, src, n, src, n, dst, n, n, src, ctype, len(body), body))
}

// readNotifyResponse returns the status line and Warning header of the first response within d.
func readNotifyResponse(t *testing.T, conn *net.UDPConn, d time.Duration) (status, warning string) {
	t.Helper()
	buf := make([]byte, 65536)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no response within %s: %v", d, err)
		}
		lines := strings.Split(string(buf[:n]), "\r\n")
		if !strings.HasPrefix(lines[0], "SIP/2.0 ") || strings.HasPrefix(lines[0], "SIP/2.0 1") {
			continue
		}
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "Warning: "); ok {
				warning = v
			}
		}
		return lines[0], warning
	}
}

// workAccount is the one account "work", registered, whose registrar is the test.
type workAccount struct{ fakeAccounts }

func (workAccount) Snapshots() []phone.AccountInfo {
	return []phone.AccountInfo{{ID: "work", AOR: "sip:alice@example.org", State: phone.RegRegistered}}
}

// TestNotifyBadInput sends the phone unsolicited voicemail NOTIFYs: from its registrar (the trust
// check says yes) a broken body gets 400 with the reason and one log line however often it comes,
// a wrong content type 415, a good body shows the count in Status and as an event; from anyone
// else the NOTIFY gets 403; a dialog NOTIFY for no subscription 481. The phone keeps working.
func TestNotifyBadInput(t *testing.T) {
	checkGoroutines(t)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	registrar := netip.MustParseAddrPort(conn.LocalAddr().String())
	admit := func(req *sip.Request) (string, bool) {
		src, err := netip.ParseAddrPort(req.Source())
		return "work", err == nil && src == registrar
	}
	pres := presence.NewSet(nil, nil, admit, nil)
	logBuf := &testenv.Buffer{}
	a := startCore(t, "alice", coreOpts{presence: pres, logTo: logBuf, accounts: &workAccount{}})
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(a.ua.Port))
	send := func(c *net.UDPConn, n int, ctype, body string) (string, string) {
		t.Helper()
		src := netip.MustParseAddrPort(c.LocalAddr().String())
		if _, err := c.WriteToUDP(notifyMsg(src, dst, n, ctype, body), net.UDPAddrFromAddrPort(dst)); err != nil {
			t.Fatal(err)
		}
		return readNotifyResponse(t, c, 3*time.Second)
	}

	// A broken body, three times: 400 with the reason each time, one log line.
	for i := range 3 {
		st, warn := send(conn, i+1, presence.SummaryType, "Messages-Waiting: perhaps\r\n")
		if !strings.HasPrefix(st, "SIP/2.0 400 ") || !strings.Contains(warn, "Messages-Waiting") {
			t.Errorf("broken body: got %q (Warning %q), want 400 naming Messages-Waiting", st, warn)
		}
	}
	st, _ := send(conn, 4, presence.SummaryType, "Messages-Waiting: yes\r\nVoice-Message: 1/x\r\n")
	if !strings.HasPrefix(st, "SIP/2.0 400 ") {
		t.Errorf("broken counts: got %q, want 400", st)
	}
	st, _ = send(conn, 5, "text/plain", "Messages-Waiting: yes\r\n")
	if !strings.HasPrefix(st, "SIP/2.0 415 ") {
		t.Errorf("wrong content type: got %q, want 415", st)
	}
	if s := a.mgr.Status(); len(s.Accounts) != 1 || s.Accounts[0].Voicemail != nil {
		t.Errorf("refused NOTIFYs changed the status: %+v", s.Accounts)
	}

	// From someone who is not the registrar: 403.
	other, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if st, _ := send(other, 6, presence.SummaryType, "Messages-Waiting: yes\r\nVoice-Message: 9/9\r\n"); !strings.HasPrefix(st, "SIP/2.0 403 ") {
		t.Errorf("unsolicited NOTIFY from a stranger: got %q, want 403", st)
	}

	// The registrar's good NOTIFY: 200, the event, and the phone still answers.
	if st, _ := send(conn, 7, presence.SummaryType, "Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"); !strings.HasPrefix(st, "SIP/2.0 200 ") {
		t.Fatalf("good NOTIFY: got %q, want 200", st)
	}
	deadline := time.After(3 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-a.events:
			if ev.Type != phone.EventMWI {
				continue
			}
			if ev.Account == nil || ev.Account.ID != "work" || ev.Account.Voicemail == nil || *ev.Account.Voicemail != (phone.MessageCount{New: 2, Old: 8, Waiting: true}) {
				t.Fatalf("mwi event: got %+v, want account work with 2 new, 8 old", ev.Account)
			}
			got = true
		case <-deadline:
			t.Fatal("no mwi event within 3 s")
		}
	}
	if s := a.mgr.Status(); len(s.Accounts) != 1 || s.Accounts[0].Voicemail == nil || s.Accounts[0].Voicemail.New != 2 || s.Accounts[0].Voicemail.Old != 8 {
		t.Errorf("status after the good NOTIFY: got %+v, want work with voicemail 2 new, 8 old", s.Accounts)
	}
	if got := strings.Count(logBuf.String(), "NOTIFY refused: Bad message summary"); got != 1 {
		t.Errorf("log lines for the broken bodies: got %d, want 1 (rate-limited)\n%s", got, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "NOTIFY refused: Forbidden") {
		t.Errorf("no log line for the stranger's NOTIFY:\n%s", logBuf.String())
	}
	b := startCore(t, "bob", coreOpts{})
	ca, _ := established(t, a, b)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
}
