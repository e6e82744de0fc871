package callmgr

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/media/sdp"
)

// TestLateOffer: an INVITE without SDP (as some PBXs and SBCs send) is answered with our offer in
// the 200 OK; the caller's answer arrives in the ACK and audio starts.
func TestLateOffer(t *testing.T) {
	checkGoroutines(t)
	b := startCore(t, "bob", coreOpts{})
	sipConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sipConn.Close()
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpConn.Close()
	me := sipConn.LocalAddr().(*net.UDPAddr)
	bob := net.UDPAddrFromAddrPort(b.ua.SelfAddr())
	ruri := "sip:bob@" + b.ua.SelfAddr().String()
	invite := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-late1;rport\r\n"+
		"From: <sip:pbx@%s>;tag=late\r\nTo: <%s>\r\nCall-ID: late-offer-1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:pbx@%s>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", ruri, me, me, ruri, me)
	if _, err := sipConn.WriteToUDP([]byte(invite), bob); err != nil {
		t.Fatal(err)
	}
	in := b.waitState(5*time.Second, phone.CallIncoming)
	if err := b.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	ok := readResponse(t, sipConn, 200)
	offer, err := sdp.Parse(ok.Body())
	if err != nil {
		t.Fatalf("200 OK to an offerless INVITE carries no usable offer: %v\n%s", err, ok.Body())
	}
	answer, _, err := sdp.Answer(offer, sdp.AnswerParams{
		Addr: netip.MustParseAddr("127.0.0.1"), Port: rtpConn.LocalAddr().(*net.UDPAddr).Port,
		Formats: []sdp.Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}},
		Version: 1, SessionID: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	toTag, _ := ok.To().Params.Get("tag")
	ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-late2;rport\r\n"+
		"From: <sip:pbx@%s>;tag=late\r\nTo: <%s>;tag=%s\r\nCall-ID: late-offer-1\r\nCSeq: 1 ACK\r\n"+
		"Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		ok.Contact().Address.String(), me, me, ruri, toTag, len(answer), answer)
	if _, err := sipConn.WriteToUDP([]byte(ack), bob); err != nil {
		t.Fatal(err)
	}
	// Bob's audio must now arrive where our answer said, as PCMU.
	rtpConn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	for got := 0; got < 10; got++ {
		n, err := rtpConn.Read(buf)
		if err != nil {
			t.Fatalf("no RTP from bob after the late answer (%d packets): %v", got, err)
		}
		if n < 12 || buf[1]&0x7f != 0 {
			t.Fatalf("packet of %d bytes with payload type %d, want PCMU (0)", n, buf[1]&0x7f)
		}
	}
	if st := b.mgr.Status(); len(st.Calls) != 1 || st.Calls[0].State != phone.CallActive || st.Calls[0].Codec != "PCMU" {
		t.Errorf("bob's call %+v", st.Calls)
	}
	if err := b.mgr.Hangup(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	bye := readRequest(t, sipConn, sip.BYE)
	res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
	if _, err := sipConn.WriteToUDP([]byte(res.String()), bob); err != nil {
		t.Fatal(err)
	}
}

// readResponse reads SIP messages on conn until a response with status code arrives.
func readResponse(t *testing.T, conn *net.UDPConn, code int) *sip.Response {
	t.Helper()
	return readMessage(t, conn, fmt.Sprint(code), func(m sip.Message) bool {
		res, ok := m.(*sip.Response)
		return ok && res.StatusCode == code
	}).(*sip.Response)
}

// readRequest reads SIP messages on conn until a request of method arrives.
func readRequest(t *testing.T, conn *net.UDPConn, method sip.RequestMethod) *sip.Request {
	t.Helper()
	return readMessage(t, conn, string(method), func(m sip.Message) bool {
		req, ok := m.(*sip.Request)
		return ok && req.Method == method
	}).(*sip.Request)
}

// readMessage reads SIP messages on conn for up to 5 s until one matches; what names it in the
// failure. Datagrams that do not parse are skipped.
func readMessage(t *testing.T, conn *net.UDPConn, what string, match func(sip.Message) bool) sip.Message {
	t.Helper()
	buf := make([]byte, 65536)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if err == nil && match(msg) {
			return msg
		}
	}
}
