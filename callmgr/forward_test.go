package callmgr

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
)

// TestForwardBaresip: a real baresip calls us with forwarding on. "always" answers at once with
// 302 Moved Temporarily and the target in Contact, without ringing; "busy" does so only while
// the phone would be busy (do not disturb here), "noanswer" after ringing the time set. Each
// call is in the history as forwarded.
func TestForwardBaresip(t *testing.T) {
	const target = "sip:desk@192.0.2.7:5070"
	for _, tc := range []struct {
		name    string
		fwd     phone.Forward
		dnd     bool
		rings   bool          // the call rings here first
		after   time.Duration // how long it rings
		forward bool          // it is forwarded at all
	}{
		{name: "always", fwd: phone.Forward{Mode: phone.ForwardAlways, Target: target}, forward: true},
		{name: "busy-dnd", fwd: phone.Forward{Mode: phone.ForwardBusy, Target: target}, dnd: true, forward: true},
		{name: "busy-idle", fwd: phone.Forward{Mode: phone.ForwardBusy, Target: target}, rings: true},
		{name: "noanswer", fwd: phone.Forward{Mode: phone.ForwardNoAnswer, Target: target, After: 1.5}, rings: true, after: 1500 * time.Millisecond, forward: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004})
			a := startCore(t, "alice", coreOpts{dnd: tc.dnd})
			if _, err := a.mgr.SetForward(ctx(t), tc.fwd); err != nil {
				t.Fatal(err)
			}
			if st := a.mgr.Status(); st.Forward == nil || st.Forward.Mode != tc.fwd.Mode || st.Forward.Target != target {
				t.Errorf("status forward %+v, want %+v", st.Forward, tc.fwd)
			}
			start := time.Now()
			if err := bob.Dial(a.ua.AOR()); err != nil {
				t.Fatal(err)
			}
			if tc.rings {
				a.waitState(5*time.Second, phone.CallIncoming)
			}
			if !tc.forward {
				time.Sleep(time.Second)
				if st := a.mgr.Status(); len(st.Calls) != 1 || st.Calls[0].State != phone.CallIncoming {
					t.Fatalf("not busy: the call should ring here; status %+v", st.Calls)
				}
				_ = bob.Hangup()
				return
			}
			ev, err := bob.WaitEvent(baresip.CallClosed, tc.after+5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			// baresip 1.0 does not follow redirects: it closes the call ("Invalid argument"). The
			// 302 itself is checked on the wire below (TestForwardWire).
			t.Logf("baresip: %s %q after %s", ev.Type, ev.Param, took.Round(time.Millisecond))
			if took < tc.after || took > tc.after+2*time.Second {
				t.Errorf("forwarded after %s, want after %s", took, tc.after)
			}
			for _, e := range bob.Events() {
				if e.Type == baresip.CallEstablished {
					t.Errorf("the forwarded call was established with baresip")
				}
			}
			a.stop()
			h := a.mgr.Recent()
			if len(h) != 1 || h[0].Result != phone.ResultForwarded || !strings.Contains(h[0].EndReason, target) {
				t.Errorf("history %+v, want one call forwarded to %s", h, target)
			}
		})
	}
}

// TestForwardRefused: forwarding to nowhere, to the echo test or to this phone itself is refused
// in words; a bad no-answer time is too.
func TestForwardRefused(t *testing.T) {
	a := startCore(t, "alice", coreOpts{})
	for _, tc := range []struct {
		f    phone.Forward
		want string
	}{
		{phone.Forward{Mode: phone.ForwardAlways, Target: ""}, "nothing to call"},
		{phone.Forward{Mode: phone.ForwardAlways, Target: "echo"}, "echo test"},
		{phone.Forward{Mode: phone.ForwardBusy, Target: a.ua.AOR()}, "this phone"},
		{phone.Forward{Mode: phone.ForwardNoAnswer, Target: "sip:x@192.0.2.1", After: 0}, "number of seconds"},
		{phone.Forward{Mode: "sometimes", Target: "sip:x@192.0.2.1"}, "unknown forwarding mode"},
	} {
		if _, err := a.mgr.SetForward(ctx(t), tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.f, err, tc.want)
		}
	}
	if st := a.mgr.Status(); st.Forward != nil {
		t.Errorf("forwarding %+v after only refused changes, want off", st.Forward)
	}
}

// inviteFinal sends an INVITE for user from a UDP socket on 127.0.0.1 and returns the first
// final response, whole.
func inviteFinal(t *testing.T, c *core, user string, n int, wait time.Duration) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().String()
	ruri := fmt.Sprintf("sip:%s@%s", user, c.ua.SelfAddr())
	body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-fwd%d;rport\r\n"+
		"From: \"Carol\" <sip:carol@%s>;tag=fw%d\r\nTo: <%s>\r\nCall-ID: fwd-%d@test\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:carol@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", ruri, src, n, src, n, ruri, n, src, len(body), body)
	if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(c.ua.SelfAddr())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		m, _, err := conn.ReadFrom(buf)
		if err != nil {
			return "no final response"
		}
		res := string(buf[:m])
		if !strings.HasPrefix(res, "SIP/2.0 1") {
			return res
		}
	}
}

// TestForwardWire: the 302 on the wire, for each mode: status line and the target in Contact.
func TestForwardWire(t *testing.T) {
	const target = "sip:desk@192.0.2.7:5070"
	a := startCore(t, "alice", coreOpts{})
	for i, f := range []phone.Forward{
		{Mode: phone.ForwardAlways, Target: target},
		{Mode: phone.ForwardNoAnswer, Target: target, After: 1},
	} {
		if _, err := a.mgr.SetForward(ctx(t), f); err != nil {
			t.Fatal(err)
		}
		res := inviteFinal(t, a, "alice", i, 5*time.Second)
		head, _, _ := strings.Cut(res, "\r\n\r\n")
		t.Logf("%s:\n%s", f.Mode, head)
		if !strings.HasPrefix(res, "SIP/2.0 302 Moved Temporarily\r\n") || !strings.Contains(res, "\r\nContact: <"+target+">") {
			t.Errorf("%s: response\n%s\nwant 302 Moved Temporarily with Contact: <%s>", f.Mode, head, target)
		}
	}
	if _, err := a.mgr.SetForward(ctx(t), phone.Forward{Mode: phone.ForwardOff}); err != nil {
		t.Fatal(err)
	}
	if res := inviteFinal(t, a, "alice", 9, 1500*time.Millisecond); res != "no final response" {
		t.Errorf("forwarding off: got %.40q, want the call to ring", res)
	}
}
