package callmgr

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestInDialogForgery: someone who saw one packet of a call knows its Call-ID and tags. A BYE
// from another address, or with the wrong From tag, must get 481 and leave the call up; the far
// end's own BYE still ends it.
func TestInDialogForgery(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{toneHz: 600})
	_, cb := established(t, a, b)
	var callID, ours, theirs, ruri string
	var cseq uint32
	if err := b.mgr.do(ctx(t), func() error {
		c := b.mgr.calls[cb.ID]
		callID, ours, theirs = c.sipCallID, c.localTag, c.farTag
		ruri = c.sdlg.InviteRequest.Contact().Address.String() // any URI will do for the test
		cseq = c.sdlg.InviteRequest.CSeq().SeqNo               // seen on the wire too: a forger uses a higher one
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bye := func(ip, fromTag string, n int) string {
		t.Helper()
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		src := conn.LocalAddr().String()
		msg := fmt.Sprintf("BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-forged%d;rport\r\n"+
			"From: <sip:alice@127.0.0.1>;tag=%s\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: %s\r\n"+
			"CSeq: %d BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", ruri, src, n, fromTag, ours, callID, cseq+uint32(n))
		if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(b.ua.SelfAddr())); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		m, _, err := conn.ReadFrom(buf)
		if err != nil {
			return "no answer"
		}
		return strings.SplitN(string(buf[:m]), "\r\n", 2)[0]
	}
	if got := bye("127.0.0.2", theirs, 1); !strings.HasPrefix(got, "SIP/2.0 481") {
		t.Errorf("BYE from another address: got %q, want 481", got)
	}
	if got := bye("127.0.0.1", "forged", 2); !strings.HasPrefix(got, "SIP/2.0 481") {
		t.Errorf("BYE with the wrong From tag: got %q, want 481", got)
	}
	time.Sleep(200 * time.Millisecond)
	if st := b.mgr.Status(); len(st.Calls) != 1 || st.Calls[0].State != phone.CallActive {
		t.Fatalf("the call after forged BYEs: %+v, want it still active", st.Calls)
	}
	ca := a.mgr.Status().Calls[0]
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
}
