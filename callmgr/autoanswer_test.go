package callmgr

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/media"
)

func TestIntercomRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		callInfo, alertInfo, answerMode string
		want                            time.Duration
		ok                              bool
	}{
		{callInfo: "<sip:127.0.0.1>;answer-after=0", ok: true},
		{callInfo: "<http://www.notused.com>;answer-after=3", want: 3 * time.Second, ok: true},
		{callInfo: "<http://x/photo.jpg>;purpose=icon", ok: false},
		{callInfo: "<sip:x>;answer-after=-1", ok: false},
		{callInfo: "<sip:x>;answer-after=99999", ok: false},
		{alertInfo: "<http://www.notused.com>;info=alert-autoanswer;delay=2", want: 2 * time.Second, ok: true},
		{alertInfo: "info=alert-autoanswer", ok: true},
		{alertInfo: "Auto Answer", ok: true},
		{alertInfo: "<http://127.0.0.1/Bellcore-dr4>", ok: false},
		{alertInfo: "<http://a/b>;info=alert-group, <http://c>;info=auto-answer", ok: true},
		{alertInfo: `<http://a/b;info=alert-autoanswer>`, ok: false}, // inside the URI: not a header parameter
		{answerMode: "Auto", ok: true},
		{answerMode: "Auto;require", ok: true},
		{answerMode: "Manual", ok: false},
		{ok: false},
	} {
		var ci, ai, am []string
		if tc.callInfo != "" {
			ci = []string{tc.callInfo}
		}
		if tc.alertInfo != "" {
			ai = []string{tc.alertInfo}
		}
		if tc.answerMode != "" {
			am = []string{tc.answerMode}
		}
		got, ok := intercomRequest(ci, ai, am)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Call-Info %q Alert-Info %q Answer-Mode %q: %v %v, want %v %v", tc.callInfo, tc.alertInfo, tc.answerMode, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzIntercomRequest(f *testing.F) {
	for _, s := range []string{"<sip:x>;answer-after=0", "<http://a>;info=alert-autoanswer;delay=5", "Auto Answer", "Auto;require", `"<,>";;=,`, "<<<>"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, ci, ai, am string) {
		d, ok := intercomRequest([]string{ci}, []string{ai}, []string{am})
		if d < 0 || d > maxIntercomDelay || (!ok && d != 0) {
			t.Fatalf("intercomRequest(%q, %q, %q) = %v, %v", ci, ai, am, d, ok)
		}
	})
}

func TestCallerListed(t *testing.T) {
	t.Parallel()
	list := []string{"sip:Door@Example.org", "frontdesk@192.0.2.5", "+44 20 7946 0018"}
	for _, tc := range []struct {
		remote string
		want   bool
	}{
		{"sip:door@example.org", true},
		{"sips:door@example.org;transport=tls", true},
		{"sip:door@example.org.evil", false},
		{"sip:frontdesk@192.0.2.5:5060", true}, // the port is not part of who calls
		{"sip:frontdesk@192.0.2.5", true},
		{"sip:+442079460018@pbx.example.org", true},
		{"sip:02079460018@pbx.example.org", true},
		{"sip:evil02079460018@pbx.example.org", false},
		{"sip:79460018x@pbx", false},
		{"sip:bob@example.org", false},
	} {
		if got := callerListed(tc.remote, list); got != tc.want {
			t.Errorf("callerListed(%q) = %v, want %v", tc.remote, got, tc.want)
		}
	}
}

// TestAutoAnswerBaresip: a listed caller (a real baresip) is answered after the time set, the
// user is told the line is open, and the call's audio flows both ways.
func TestAutoAnswerBaresip(t *testing.T) {
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004, Codecs: []string{"pcmu"}})
	a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{media.PCMU},
		autoAnswer: AutoAnswer{Callers: []string{"bob@127.0.0.1"}, After: time.Second}})
	start := time.Now()
	if err := bob.Dial(a.ua.AOR()); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallIncoming)
	ci := a.waitState(5*time.Second, phone.CallActive)
	took := time.Since(start)
	if took < time.Second || took > 3*time.Second || !ci.AutoAnswered {
		t.Errorf("answered after %s, auto_answered %v; want after about 1 s, true", took, ci.AutoAnswered)
	}
	w := a.waitEvent(5*time.Second, phone.EventWarning)
	if !strings.Contains(w.Message, "answered automatically") || !strings.Contains(w.Message, "line is open") {
		t.Errorf("warning %q, want it to say the line is open", w.Message)
	}
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.stop()
	checkToneFrom(t, a, media.PCMU, 1004, 30)
	checkTone(t, bob.RecordedReceived(), 604, 30)
}

// intercomInvite sends a direct INVITE from 127.0.0.1 as user from, with header hdr, and returns
// the first response that is not 100 or 180 within wait ("" if none).
func intercomInvite(t *testing.T, c *core, from, hdr string, n int, wait time.Duration) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	src := conn.LocalAddr().String()
	ruri := fmt.Sprintf("sip:alice@%s", c.ua.SelfAddr())
	body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ic%d;rport\r\n"+
		"From: <sip:%s>;tag=ic%d\r\nTo: <%s>\r\nCall-ID: ic-%d@test\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:door@%s>\r\nMax-Forwards: 70\r\n%s\r\nContent-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", ruri, src, n, from, n, ruri, n, src, hdr, len(body), body)
	if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(c.ua.SelfAddr())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		m, _, err := conn.ReadFrom(buf)
		if err != nil {
			return ""
		}
		line, _, _ := strings.Cut(string(buf[:m]), "\r\n")
		if !strings.HasPrefix(line, "SIP/2.0 100") && !strings.HasPrefix(line, "SIP/2.0 180") {
			return line
		}
	}
}

// TestIntercomOnlyFromAllowed: an intercom request is honoured from an allowed caller whose
// address is the INVITE's source, and ignored (the call rings) from anyone else — also from one
// who writes an allowed address in From without sending from it.
func TestIntercomOnlyFromAllowed(t *testing.T) {
	a := startCore(t, "alice", coreOpts{autoAnswer: AutoAnswer{Intercom: []string{"door@127.0.0.1", "door@192.0.2.9"}}})
	if got := intercomInvite(t, a, "door@127.0.0.1", "Call-Info: <sip:127.0.0.1>;answer-after=0", 1, 3*time.Second); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Errorf("allowed intercom: got %q, want 200 at once", got)
	}
	ci := a.waitState(5*time.Second, phone.CallActive)
	if !ci.AutoAnswered {
		t.Errorf("the intercom call is not marked auto_answered: %+v", ci)
	}
	if err := a.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	for i, from := range []string{"eve@127.0.0.1", "door@192.0.2.9"} {
		if got := intercomInvite(t, a, from, "Alert-Info: <http://x>;info=alert-autoanswer", 10+i, 1500*time.Millisecond); got != "" {
			t.Errorf("intercom from %s: got %q, want the call to ring", from, got)
		}
		st := a.mgr.Status()
		if len(st.Calls) != 1 || st.Calls[0].State != phone.CallIncoming {
			t.Fatalf("intercom from %s: calls %+v, want one ringing", from, st.Calls)
		}
		if err := a.mgr.Hangup(ctx(t), st.Calls[0].ID); err != nil {
			t.Fatal(err)
		}
		a.waitState(5*time.Second, phone.CallEnded)
	}
}
