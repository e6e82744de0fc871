package callmgr

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"trayphone/internal/phone"
)

func TestCleanName(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tc := range []struct{ in, want string }{
		{"Bob", "Bob"},
		{"Your Bank\u202e moc.knab", "Your Bank moc.knab"},
		{"a\x1b[31mred\x1b[0m\nline", "a [31mred [0m line"},
		{"\u2066iso\u2069  lated\t", "iso lated"},
		{"bad\xffutf8", "badutf8"},
		{long, strings.Repeat("x", maxNameRunes) + "…"},
		// A space just before the cap counted as a rune, but the rune after it was written anyway.
		{strings.Repeat("x", maxNameRunes-1) + " yz", strings.Repeat("x", maxNameRunes-1) + "…"},
		{strings.Repeat("x", maxNameRunes-2) + " y", strings.Repeat("x", maxNameRunes-2) + " y"},
	} {
		if got := cleanName(tc.in); got != tc.want {
			t.Errorf("cleanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCallerNameCleaned: a caller's display name with a bidi override, terminal escapes, a
// newline and 300 characters reaches Status (and from there the notification) cleaned and capped.
func TestCallerNameCleaned(t *testing.T) {
	checkGoroutines(t)
	b := startCore(t, "bob", coreOpts{})
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().String()
	// Raw on the wire: an RTL override, a terminal escape, a vertical tab.
	name := "Your Bank\u202e\x1b[2J\x0bmoc.knab" + strings.Repeat("!", 300)
	ruri := fmt.Sprintf("sip:bob@%s", b.ua.SelfAddr())
	body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-name1;rport\r\n"+
		"From: \"%s\" <sip:bank@127.0.0.1>;tag=nm1\r\nTo: <%s>\r\nCall-ID: name-1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:bank@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", ruri, src, name, ruri, src, len(body), body)
	if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(b.ua.SelfAddr())); err != nil {
		t.Fatal(err)
	}
	c := b.waitState(5*time.Second, phone.CallIncoming)
	if strings.ContainsFunc(c.RemoteName, func(r rune) bool { return r < 0x20 || isBidiControl(r) }) {
		t.Errorf("caller name %q still has control or bidi characters", c.RemoteName)
	}
	if n := utf8.RuneCountInString(c.RemoteName); n > maxNameRunes+1 {
		t.Errorf("caller name has %d characters, want at most %d", n, maxNameRunes+1)
	}
}
