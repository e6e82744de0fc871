package sipua

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Outbound is how a request leaves through a SIP account: the identity it carries, where it goes
// first and how it authenticates. The account package fills it; the call manager uses it.
type Outbound struct {
	// Account is the account's ID.
	Account string
	// From is the account's address of record; DisplayName goes with it.
	From        sip.Uri
	DisplayName string
	// Contact is where the far end reaches us for this account (it carries the registration token).
	Contact sip.Uri
	// Domain is where bare names go: "bob" → sip:bob@Domain.
	Domain string
	// Route is the outbound proxy or registrar, a loose route (nil: send to the Request-URI).
	Route *sip.Uri
	// Transport is "UDP", "TCP" or "TLS".
	Transport string
	// LocalIP is the address the account reaches its registrar from (for SDP).
	LocalIP netip.Addr
	// AuthUser and Password answer 401/407 challenges, and only those CheckChallenge allows.
	AuthUser, Password string
	// Realms are the digest realms the account's own registrar and proxy use: the account's
	// domain, the registrar's and proxy's hosts and the realms its registrar challenged with.
	Realms []string
}

// CredentialsRefusedError says why a challenge was not answered with the account's credentials.
type CredentialsRefusedError struct {
	Realm, Hop, Reason string
}

func (e *CredentialsRefusedError) Error() string {
	return fmt.Sprintf("did not send the account's password: the challenge for realm %q came %s", e.Realm, e.Reason)
}

// CheckChallenge reports whether the challenges of res (401/407), for a request whose first hop
// is hop (its first Route, or its Request-URI without one), may be answered with the account's
// credentials: only when the request goes to the account's own registrar or outbound proxy and
// every challenge names one of the account's realms. Anything else is refused with the reason:
// a far end that challenges a request sent straight to it, or asks for another realm, would get
// a digest it can crack offline.
func (o *Outbound) CheckChallenge(res *sip.Response, hop sip.Uri) error {
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	realm := ""
	for _, h := range res.GetHeaders(name) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			continue
		}
		realm = c.Realm
		if !o.ownRealm(c.Realm) {
			return &CredentialsRefusedError{Realm: c.Realm, Hop: hop.HostPort(),
				Reason: "from outside the account (not one of its realms " + strings.Join(o.Realms, ", ") + ")"}
		}
	}
	if o.Route == nil || !sameHop(hop, *o.Route) {
		route := "none"
		if o.Route != nil {
			route = o.Route.HostPort()
		}
		return &CredentialsRefusedError{Realm: realm, Hop: hop.HostPort(),
			Reason: fmt.Sprintf("for a request sent to %s, not through the account's registrar or proxy (%s)", hop.HostPort(), route)}
	}
	return nil
}

func (o *Outbound) ownRealm(realm string) bool {
	for _, r := range o.Realms {
		if r != "" && strings.EqualFold(r, realm) {
			return true
		}
	}
	return false
}

// sameHop reports whether a and b name the same next hop: host (case-insensitive) and port, the
// default port counting as 5060 (5061 for sips or transport=tls).
func sameHop(a, b sip.Uri) bool {
	return strings.EqualFold(strings.Trim(a.Host, "[]"), strings.Trim(b.Host, "[]")) && hopPort(a) == hopPort(b)
}

func hopPort(u sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if t, _ := u.UriParams.Get("transport"); u.IsEncrypted() || strings.EqualFold(t, "tls") {
		return 5061
	}
	return 5060
}

// Do sends req (not an INVITE) and returns its final response.
func (u *UA) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	return u.Client.Do(ctx, req)
}

// ErrNoFlow is returned by Ping when no TCP or TLS connection to the destination is open.
var ErrNoFlow = errors.New("no open connection")

// Ping keeps the flow to dst alive. On UDP it sends a CRLF keepalive (RFC 5626 §4.4.1: "\r\n\r\n")
// from the listener, so that a NAT keeps the mapping the registrar reaches us on. On TCP and TLS
// the kernel's keepalive (Go's default, 15 s) probes the connection; Ping reports ErrNoFlow when
// it has closed (the registrar restarted, the network changed), so that the caller re-registers.
func (u *UA) Ping(transport string, dst netip.AddrPort) error {
	if !dst.IsValid() {
		return errors.New("keepalive: no address")
	}
	if t := strings.ToLower(transport); t == "tcp" || t == "tls" {
		c, err := u.UA.TransportLayer().GetConnection(t, dst.String())
		if err != nil || c == nil {
			return ErrNoFlow
		}
		return nil
	}
	_, err := u.udp.WriteTo([]byte("\r\n\r\n"), net.UDPAddrFromAddrPort(dst))
	return err
}

// ContactFor returns our Contact URI for user, reached from a peer at dst over transport ("udp",
// "tcp" or "tls"), with extra URI parameters (key, value pairs).
func (u *UA) ContactFor(user string, dst netip.Addr, transport string, params ...string) sip.Uri {
	host := u.Host
	if dst.IsValid() {
		host = u.LocalIPFor(dst)
	}
	c := sip.Uri{Scheme: "sip", User: user, Host: host.String(), Port: u.Port, UriParams: sip.NewParams()}
	if t := strings.ToLower(transport); t != "" && t != "udp" {
		c.UriParams.Add("transport", t)
	}
	for i := 0; i+1 < len(params); i += 2 {
		c.UriParams.Add(params[i], params[i+1])
	}
	return c
}

// ErrPortUnreachable is returned by Unreachable when the destination's host answered with an ICMP
// "port unreachable": nothing listens there.
var ErrPortUnreachable = errors.New("port unreachable (ICMP)")

// Unreachable checks whether UDP to dst is refused: it sends a CRLF keepalive (RFC 5626 §4.4.1,
// which a SIP server ignores) from a connected socket of its own, where the kernel reports an ICMP
// "port unreachable" as ECONNREFUSED, and waits up to wait for it. The listening socket cannot
// do this: it is not connected, and unconnected UDP sockets are not told about ICMP errors. It
// returns ErrPortUnreachable, or nil when no error came back by then or ctx ended (which proves nothing: ICMP may be
// filtered, and Windows reports it differently).
func (u *UA) Unreachable(ctx context.Context, dst netip.AddrPort, wait time.Duration) error {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil
	}
	defer c.Close()
	if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return ErrPortUnreachable
		}
		return nil
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) }) // wakes the Read
	defer stop()
	buf := make([]byte, 1500)
	for {
		_, err := c.Read(buf) // a SIP server may answer a CRLF with a CRLF (RFC 5626 pong)
		if err == nil {
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return ErrPortUnreachable
		}
		return nil
	}
}

// PlausibleReceived reports whether ip, the address a registrar says it saw our request come from
// (Via received, RFC 3581), may become our Contact: a unicast address of our own address family,
// loopback only when we or the registrar are on loopback. A response carrying anything else (a
// forged or broken one) must not move where our calls are sent.
func PlausibleReceived(ip, ours, registrar netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case ip.IsLoopback() && !ours.IsLoopback() && !registrar.IsLoopback():
		return false
	case ours.IsValid() && ours.Unmap().Is4() != ip.Is4():
		return false
	}
	return true
}

// Token returns n random bytes from crypto/rand as lowercase hex: SIP tags and Call-IDs (RFC 3261
// §19.3 asks for cryptographically random tags; a guessable one helps forge in-dialog requests).
func Token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}
