package callmgr

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// fakeAccounts is one account whose next hop is proxy.
type fakeAccounts struct{ ob sipua.Outbound }

func (f *fakeAccounts) Snapshots() []phone.AccountInfo { return nil }
func (f *fakeAccounts) Outbound(string) (*sipua.Outbound, error) {
	o := f.ob
	return &o, nil
}
func (f *fakeAccounts) AccountFor(sip.Uri) string         { return "" }
func (f *fakeAccounts) Admit(*sip.Request) (string, bool) { return f.ob.Account, true }

// rawPeer is a UDP SIP peer the test scripts message by message.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, conn: c}
}

func (p *rawPeer) addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

// next returns the next request of method (answering nothing else), or nil after timeout.
func (p *rawPeer) next(method sip.RequestMethod, timeout time.Duration) (*sip.Request, *net.UDPAddr) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65536)
	for {
		_ = p.conn.SetReadDeadline(deadline)
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return nil, nil
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		if req, ok := msg.(*sip.Request); ok && req.Method == method {
			return req, from
		}
	}
}

func (p *rawPeer) send(msg sip.Message, to *net.UDPAddr) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP([]byte(msg.String()), to); err != nil {
		p.t.Fatal(err)
	}
}

// challenge answers req with a 401/407 asking for realm.
func challenge(req *sip.Request, code int, realm string) *sip.Response {
	reason, name := "Unauthorized", "WWW-Authenticate"
	if code == 407 {
		reason, name = "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader(name, fmt.Sprintf(`Digest realm="%s", nonce="abc123", algorithm=MD5, qop="auth"`, realm)))
	if to := res.To(); to != nil && to.Params != nil {
		if _, ok := to.Params.Get("tag"); !ok {
			to.Params.Add("tag", "fe1")
		}
	}
	return res
}

func hasAuth(req *sip.Request) bool {
	return req.GetHeader("Authorization") != nil || req.GetHeader("Proxy-Authorization") != nil
}

// TestCredentialsForeignRealm: a call through an account whose INVITE is challenged for realm
// "evil.example" (a far end behind the account's proxy fishing for a digest) must not carry the
// account's credentials, and the call fails saying why.
func TestCredentialsForeignRealm(t *testing.T) {
	checkGoroutines(t)
	proxy := newRawPeer(t)
	route := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: proxy.addr().Port, UriParams: sip.NewParams()}
	route.UriParams.Add("lr", "")
	acc := &fakeAccounts{ob: sipua.Outbound{Account: "work", From: sip.Uri{Scheme: "sip", User: "alice", Host: "example.org"},
		Domain: "example.org", Route: &route, Transport: "UDP", AuthUser: "alice", Password: "s3cret",
		Realms: []string{"example.org"}}}
	a := startCore(t, "alice", coreOpts{accounts: acc})
	acc.ob.Contact = sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: int(a.ua.SelfAddr().Port())}
	if _, err := a.mgr.Call(ctx(t), "sip:bob@example.org", "work"); err != nil {
		t.Fatal(err)
	}
	inv, from := proxy.next(sip.INVITE, 5*time.Second)
	if inv == nil {
		t.Fatal("no INVITE reached the proxy")
	}
	proxy.send(challenge(inv, 407, "evil.example"), from)
	if again, _ := proxy.next(sip.INVITE, 2*time.Second); again != nil && hasAuth(again) {
		t.Fatalf("the INVITE was sent again with credentials for realm evil.example:\n%s", again)
	}
	ended := a.waitState(5*time.Second, phone.CallEnded)
	if !strings.Contains(ended.EndReason, "evil.example") {
		t.Errorf("call ended with %q, want a reason naming the realm evil.example", ended.EndReason)
	}
}

// TestCredentialsDirectBYE: the account's proxy did not Record-Route, so the BYE goes straight to
// the far end's Contact; the far end challenges it, even for the account's own realm: it gets no
// credentials.
func TestCredentialsDirectBYE(t *testing.T) {
	checkGoroutines(t)
	proxy, far := newRawPeer(t), newRawPeer(t)
	route := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: proxy.addr().Port, UriParams: sip.NewParams()}
	route.UriParams.Add("lr", "")
	acc := &fakeAccounts{ob: sipua.Outbound{Account: "work", From: sip.Uri{Scheme: "sip", User: "alice", Host: "example.org"},
		Domain: "example.org", Route: &route, Transport: "UDP", AuthUser: "alice", Password: "s3cret",
		Realms: []string{"example.org"}}}
	a := startCore(t, "alice", coreOpts{accounts: acc})
	acc.ob.Contact = sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1", Port: int(a.ua.SelfAddr().Port())}
	info, err := a.mgr.Call(ctx(t), "sip:bob@example.org", "work")
	if err != nil {
		t.Fatal(err)
	}
	inv, from := proxy.next(sip.INVITE, 5*time.Second)
	if inv == nil {
		t.Fatal("no INVITE reached the proxy")
	}
	sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", far.addr().Port+2)
	ok := sip.NewResponseFromRequest(inv, 200, "OK", []byte(sdp))
	ok.To().Params.Add("tag", "fe1")
	ok.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: far.addr().Port}})
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	proxy.send(ok, from)
	a.waitState(5*time.Second, phone.CallActive)
	if err := a.mgr.Hangup(ctx(t), info.ID); err != nil {
		t.Fatal(err)
	}
	bye, byeFrom := far.next(sip.BYE, 5*time.Second)
	if bye == nil {
		t.Fatal("no BYE reached the far end's Contact")
	}
	far.send(challenge(bye, 401, "example.org"), byeFrom)
	if again, _ := far.next(sip.BYE, 2*time.Second); again != nil && hasAuth(again) {
		t.Fatalf("the BYE sent straight to the far end carried the account's credentials:\n%s", again)
	}
}
