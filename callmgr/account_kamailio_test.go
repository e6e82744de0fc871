package callmgr

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/account"
	"trayphone/internal/audiotest"
	"trayphone/internal/config"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/siptest/kamailio"
	"trayphone/internal/sipua"
	"trayphone/media"
)

// accountCore is a trayphone core with one SIP account registered at a real Kamailio.
type accountCore struct {
	*core
	set *account.Set
}

// startAccountCore starts a core like startCore, with the account user@k (password pw) and
// ghost-call protection on, and waits until the account is registered.
func startAccountCore(t *testing.T, k *kamailio.Kamailio, user, pw string, toneHz float64) *accountCore {
	t.Helper()
	return startAccountCoreOn(t, k, "udp", user, pw, toneHz)
}

// startAccountCoreOn is startAccountCore registering over transport ("udp", "tcp" or "tls"; TLS
// trusts Kamailio's self-signed certificate by its fingerprint).
func startAccountCoreOn(t *testing.T, k *kamailio.Kamailio, transport, user, pw string, toneHz float64, opts ...func(*Config)) *accountCore {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, user+"-in.wav"), filepath.Join(dir, user+"-out.wav")
	if err := audiotest.WriteTone(in, toneHz, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t, user)
	dev, err := media.NewDevice(in, out, log)
	if err != nil {
		t.Fatal(err)
	}
	registrar := "sip:" + k.Domain()
	var tlsCfg *tls.Config
	if transport == "tls" {
		registrar = "sip:" + k.TLSAddr().String()
		tlsCfg = account.NewTrust(k.Fingerprint).Config()
	}
	ua, err := sipua.New(sipua.Config{Listen: "127.0.0.1:0", User: user, TLS: tlsCfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := account.FromConfig(config.Account{ID: "test", AOR: "sip:" + user + "@" + k.Domain(),
		Registrar: registrar, Transport: transport, Expires: 300})
	if err != nil {
		t.Fatal(err)
	}
	var mgr *Manager
	changed := make(chan struct{}, 1)
	set := account.NewSet([]account.Spec{spec}, ua, func(string) (string, error) { return pw, nil },
		account.WithLogger(log), account.WithOnChange(func(i phone.AccountInfo) {
			mgr.AccountChanged(i)
			select {
			case changed <- struct{}{}:
			default:
			}
		}))
	c := &core{t: t, name: user, ua: ua, in: in, out: out}
	cfg := Config{UA: ua, Device: dev, Accounts: set, RejectDirectCalls: true, CallWaiting: true, Log: log,
		SessionOptions: []media.Option{media.WithReceiveObserver(c.heard.add)}}
	for _, o := range opts {
		o(&cfg)
	}
	mgr, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev, unsub := mgr.Subscribe()
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = mgr.Run(ctx) }()
	setDone := make(chan struct{})
	go func() { _ = set.Serve(ctx); close(setDone) }()
	c.mgr, c.events = mgr, ev
	c.stop = func() {
		cancel()
		for _, ch := range []<-chan struct{}{mgr.Done(), setDone} {
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Errorf("%s: core did not stop within 5 s", user)
			}
		}
		unsub()
		ua.Close()
	}
	t.Cleanup(c.stop)
	ac := &accountCore{core: c, set: set}
	ac.waitAccount(5*time.Second, phone.RegRegistered)
	return ac
}

// waitAccount waits until the account's state in Status is want.
func (c *accountCore) waitAccount(timeout time.Duration, want phone.RegState) phone.AccountInfo {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.mgr.Status()
		if len(st.Accounts) == 1 && st.Accounts[0].State == want {
			return st.Accounts[0]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: account state %+v, want %s within %s", c.name, st.Accounts, want, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAccountCallsBaresipThroughKamailio(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{})
	bob := registeredBob(t, k)
	a := startAccountCore(t, k, "alice", "alicepw", 604)
	ci := callBaresip(t, a.core, bob, "bob", "", 3*time.Second, 30)
	if want := "sip:bob@" + k.Domain(); ci.Remote != want {
		t.Errorf("remote %q, want %q", ci.Remote, want)
	}
	if n := k.Requests("INVITE"); n != 2 {
		t.Errorf("INVITEs at Kamailio: got %d, want 2 (challenged with 407, then authenticated)", n)
	}
	if n := k.Requests("BYE"); n < 1 {
		t.Errorf("the BYE did not go through Kamailio (Record-Route not honoured)")
	}
}

func TestBaresipCallsAccountThroughKamailio(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	bob := registeredBob(t, k)
	a := startAccountCore(t, k, "alice", "alicepw", 604)
	bobCalls(t, bob, a.core, "sip:alice@"+k.Domain())
	time.Sleep(3 * time.Second)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.stop()
	checkTone(t, a.out, 1004, 35)
	checkTone(t, bob.RecordedReceived(), 604, 35)
}

// TestScannerInviteDoesNotRing sends a SIP-scanner-style INVITE straight to the phone's port while
// its account is registered: it gets 403, and no call, event or history entry appears.
func TestScannerInviteDoesNotRing(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{})
	a := startAccountCore(t, k, "alice", "alicepw", 604)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().(*net.UDPAddr)
	for _, user := range []string{"alice", "100", ""} {
		ruri := fmt.Sprintf("sip:%s@%s", user, a.ua.SelfAddr())
		if user == "" {
			ruri = "sip:" + a.ua.SelfAddr().String()
		}
		body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-scan%s;rport\r\n"+
			"From: \"sipvicious\" <sip:100@1.1.1.1>;tag=scan%s\r\nTo: <%s>\r\nCall-ID: scan-%s\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:100@%s>\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Type: application/sdp\r\n"+
			"Content-Length: %d\r\n\r\n%s", ruri, src, user, user, ruri, user, src, len(body), body)
		if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(a.ua.SelfAddr())); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer to the scanner INVITE for %q: %v", user, err)
		}
		if first := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]; !strings.HasPrefix(first, "SIP/2.0 403") {
			t.Errorf("scanner INVITE for %q: got %q, want 403", user, first)
		}
	}
	time.Sleep(300 * time.Millisecond)
	sawRegistered := false
	for {
		select {
		case ev := <-a.events:
			if ev.Type == phone.EventCall {
				t.Fatalf("the scanner INVITE made a call event: %+v", ev.Call)
			}
			if ev.Type == phone.EventAccount && ev.Account != nil && ev.Account.State == phone.RegRegistered {
				sawRegistered = true
			}
			continue
		default:
		}
		break
	}
	if !sawRegistered {
		t.Error("no EventAccount with state registered was published")
	}
	if st := a.mgr.Status(); len(st.Calls) != 0 {
		t.Errorf("calls after the scanner INVITE: %+v", st.Calls)
	}
	if r := a.mgr.Recent(); len(r) != 0 {
		t.Errorf("history after the scanner INVITE: %+v", r)
	}
}

// TestKamailioRestart kills the registrar while registered and restarts it: the account notices
// (here: a Kick, as after a network change) and is registered again within 5 s of the registrar
// coming back.
func TestKamailioRestart(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{})
	a := startAccountCore(t, k, "alice", "alicepw", 604)
	k.Kill()
	if err := a.set.Kick(""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if st := a.mgr.Status().Accounts[0]; st.State == phone.RegRegistered {
		t.Errorf("still %s while the registrar is down", st.State)
	}
	k.Restart()
	back := time.Now()
	a.waitAccount(5*time.Second, phone.RegRegistered)
	t.Logf("registered again %s after Kamailio came back", time.Since(back).Round(time.Millisecond))
	cs, err := k.Contacts("alice")
	if err != nil || len(cs) != 1 {
		t.Fatalf("location table after the restart: %+v, %v", cs, err)
	}
	a.stop()
	cs, err = k.Contacts("alice")
	if err != nil || len(cs) != 0 {
		t.Fatalf("location table after quitting (un-REGISTER): %+v, %v", cs, err)
	}
}

// TestTLSAccountCallsBothWays registers over TLS and places and receives a call through Kamailio
// (baresip on UDP at the far end): every request to us comes over the TLS connection we opened,
// because our Contact names that flow (learnt from rport). Audio is checked both ways.
func TestTLSAccountCallsBothWays(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{TLS: true})
	bob := registeredBob(t, k)
	a := startAccountCoreOn(t, k, "tls", "alice", "alicepw", 604)
	cs, err := k.Contacts("alice")
	if err != nil || len(cs) != 1 || !strings.HasPrefix(cs[0].Socket, "tls:") || !strings.Contains(cs[0].Address, "transport=tls") {
		t.Fatalf("alice's binding: %+v, %v", cs, err)
	}
	t.Logf("alice's binding: %s (received %s, socket %s)", cs[0].Address, cs[0].Received, cs[0].Socket)
	// Incoming.
	bobCalls(t, bob, a.core, "sip:alice@"+k.Domain())
	time.Sleep(2 * time.Second)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	if e := a.waitState(5*time.Second, phone.CallEnded); e.EndReason != "the far end hung up" {
		t.Errorf("incoming call ended: %q, want the far end hung up", e.EndReason)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Outgoing.
	callBaresip(t, a.core, bob, "bob", "", 2*time.Second, 30)
}

// TestChallengedBYE: Kamailio challenges carol's BYEs (407); the hang-up answers with the account's
// credentials and reaches baresip.
func TestChallengedBYE(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	bob := registeredBob(t, k)
	c := startAccountCore(t, k, "carol", "carolpw", 604)
	ci, err := c.mgr.Call(ctx(t), "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	c.waitState(10*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatalf("bob never got the BYE: %v", err)
	}
	if n := k.Requests("BYE"); n != 2 {
		t.Errorf("BYEs at Kamailio: %d, want 2 (challenged, then with credentials)", n)
	}
}

// TestChallengedInDialogRequests: a call that reached carol through Kamailio, which challenges
// carol's in-dialog INVITEs and BYEs: hold and resume (re-INVITEs) and the hang-up (a BYE sent
// by the callee) are answered with carol's credentials and go through.
func TestChallengedInDialogRequests(t *testing.T) {
	checkGoroutines(t)
	k := kamailio.Start(t, kamailio.Options{})
	bob := registeredBob(t, k)
	c := startAccountCore(t, k, "carol", "carolpw", 604)
	in := bobCalls(t, bob, c.core, "sip:carol@"+k.Domain())
	if in.Account != "test" {
		t.Errorf("incoming call's account %q, want %q", in.Account, "test")
	}
	invites := k.Requests("INVITE")
	if err := c.mgr.Hold(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if h := c.waitState(5*time.Second, phone.CallHeld); !h.LocalHold {
		t.Errorf("held call %+v", h)
	}
	if err := c.mgr.Resume(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	c.waitState(5*time.Second, phone.CallActive)
	if n := k.Requests("INVITE") - invites; n != 4 {
		t.Errorf("re-INVITEs at Kamailio: %d, want 4 (hold and resume, each challenged once)", n)
	}
	if err := c.mgr.Hangup(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatalf("bob never got the BYE: %v", err)
	}
	if n := k.Requests("BYE"); n != 2 {
		t.Errorf("BYEs at Kamailio: %d, want 2 (challenged, then with credentials)", n)
	}
	if r := c.mgr.Recent(); len(r) != 1 || r[0].Account != "test" {
		t.Errorf("history %+v, want the call with its account", r)
	}
}

// TestScannerOptionsUnanswered: with ghost-call protection on, an OPTIONS probe sent straight to
// the phone gets no answer at all, so a scanner cannot even tell a phone is there.
func TestScannerOptionsUnanswered(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	a := startAccountCore(t, k, "alice", "alicepw", 604)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	src := conn.LocalAddr().(*net.UDPAddr)
	ruri := "sip:100@" + a.ua.SelfAddr().String()
	msg := fmt.Sprintf("OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-probe;rport\r\n"+
		"From: <sip:100@1.1.1.1>;tag=probe\r\nTo: <%s>\r\nCall-ID: probe-1\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n", ruri, src, ruri)
	if _, err := conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(a.ua.SelfAddr())); err != nil {
		t.Fatal(err)
	}
	if codes := readStatusCodes(conn, time.Second); len(codes) != 0 {
		t.Errorf("the phone answered a scanner's OPTIONS with %v", codes)
	}
}

// registeredBob starts a baresip "bob" (1004 Hz) registered at k.
func registeredBob(t *testing.T, k *kamailio.Kamailio) *baresip.Baresip {
	t.Helper()
	bob := baresip.Start(t, baresip.Options{User: "bob", Password: "bobpw", Registrar: k.Domain(), ToneHz: 1004})
	if _, err := bob.WaitEvent("REGISTER_OK", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return bob
}

// bobCalls has bob dial uri and c answer, and waits until both sides have the call up. It
// returns the incoming call as c saw it ring.
func bobCalls(t *testing.T, bob *baresip.Baresip, c *core, uri string) phone.CallInfo {
	t.Helper()
	if err := bob.Dial(uri); err != nil {
		t.Fatal(err)
	}
	in := c.waitState(10*time.Second, phone.CallIncoming)
	if err := c.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	c.waitState(5*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return in
}

// callBaresip has a (whose tone is 604 Hz) call bob (1004 Hz) at target, checks the negotiated
// codec when wantCodec is set, talks for talk, hangs up, stops a and checks the audio both ways:
// bob's tone in a's recording and a's in baresip's decode dump, each at least minSNR dB. It
// returns the call as Call placed it.
func callBaresip(t *testing.T, a *core, bob *baresip.Baresip, target, wantCodec string, talk time.Duration, minSNR float64) phone.CallInfo {
	t.Helper()
	ci, err := a.mgr.Call(ctx(t), target, "")
	if err != nil {
		t.Fatal(err)
	}
	active := a.waitState(10*time.Second, phone.CallActive)
	if wantCodec != "" && active.Codec != wantCodec {
		t.Errorf("codec %s, want %s", active.Codec, wantCodec)
	}
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(talk)
	logMedia(t, a)
	if err := a.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.stop()
	codec, ok := media.CodecByName(active.Codec)
	if !ok {
		t.Fatalf("codec %q unknown", active.Codec)
	}
	checkToneFrom(t, a, codec, 1004, minSNR)
	checkTone(t, bob.RecordedReceived(), 604, minSNR)
	return ci
}
