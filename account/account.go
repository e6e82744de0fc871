// Package account owns trayphone's SIP accounts: their settings (from the [[account]] tables of
// the config file), their secrets (OS keyring, 0600 file fallback) and one registration state
// machine per account (REGISTER with digest auth, refresh before expiry, backoff, Kick, un-REGISTER
// on shutdown).
package account

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/config"
)

// DefaultExpires is the registration lifetime asked for when the config says 0.
const DefaultExpires = 3600 * time.Second

// DefaultKeepalive is the period of the OPTIONS keepalive when the config says 0: a registrar
// that stops answering is noticed within DefaultKeepalive + ProbeTimeout (8 s), well inside a
// 10 s outage.
const DefaultKeepalive = 5 * time.Second

// maxKeepalive bounds the keepalive setting.
const maxKeepalive = time.Hour

// Spec is one account's settings, checked and parsed.
type Spec struct {
	ID        string
	AOR       sip.Uri // sip:user@domain
	AuthUser  string  // digest user name (default: the AOR's user)
	Registrar sip.Uri // where REGISTER goes (Request-URI); default sip:domain
	Proxy     sip.Uri // next hop for every request; default the registrar
	HasProxy  bool    // an outbound proxy was configured
	Transport string  // "udp", "tcp" or "tls"
	Expires   time.Duration
	// Keepalive is the period of the OPTIONS keepalive sent to the next hop while registered.
	Keepalive   time.Duration
	DisplayName string
	// Voicemail is the voicemail box "Call voicemail" dials; empty (no Host) when not configured.
	Voicemail sip.Uri
}

// FromConfig checks an [[account]] table and returns its Spec. Errors name the account and the
// field in plain words.
func FromConfig(a config.Account) (Spec, error) {
	s := Spec{ID: a.ID, AuthUser: a.AuthUser, DisplayName: a.DisplayName, Transport: strings.ToLower(a.Transport)}
	if a.ID == "" {
		return s, errors.New("account without an id")
	}
	fail := func(field, format string, args ...any) (Spec, error) {
		return s, fmt.Errorf("account %s: %s: %s", a.ID, field, fmt.Sprintf(format, args...))
	}
	if err := sip.ParseUri(a.AOR, &s.AOR); err != nil || s.AOR.User == "" || s.AOR.Host == "" {
		return fail("aor", "%q is not a SIP address like sip:alice@example.org", a.AOR)
	}
	if s.AuthUser == "" {
		s.AuthUser = s.AOR.User
	}
	switch s.Transport {
	case "":
		s.Transport = "udp"
		if s.AOR.Scheme == "sips" {
			s.Transport = "tls"
		}
	case "udp", "tcp", "tls":
	default:
		return fail("transport", "unknown transport %q (want udp, tcp or tls)", a.Transport)
	}
	if a.Registrar != "" {
		if err := sip.ParseUri(withScheme(a.Registrar), &s.Registrar); err != nil || s.Registrar.Host == "" {
			return fail("registrar", "%q is not a SIP URI like sip:registrar.example.org", a.Registrar)
		}
	} else {
		s.Registrar = sip.Uri{Scheme: "sip", Host: s.AOR.Host, Port: s.AOR.Port}
	}
	s.Registrar.User = ""
	if a.OutboundProxy != "" {
		if err := sip.ParseUri(withScheme(a.OutboundProxy), &s.Proxy); err != nil || s.Proxy.Host == "" {
			return fail("outbound_proxy", "%q is not a SIP URI like sip:proxy.example.org", a.OutboundProxy)
		}
		s.HasProxy = true
	} else {
		s.Proxy = s.Registrar
	}
	s.Proxy.User = ""
	if v := strings.TrimSpace(a.Voicemail); v != "" {
		if l := strings.ToLower(v); !strings.HasPrefix(l, "sip:") && !strings.HasPrefix(l, "sips:") {
			v = "sip:" + v + "@" + s.Domain()
		}
		if err := sip.ParseUri(v, &s.Voicemail); err != nil || s.Voicemail.User == "" || s.Voicemail.Host == "" {
			return fail("voicemail", "%q is not a SIP address like sip:*97@pbx.example.com or a number like *97", a.Voicemail)
		}
	}
	switch {
	case a.Expires < 0:
		return fail("expires", "want a number of seconds, 0 or more; got %d", a.Expires)
	case a.Expires == 0:
		s.Expires = DefaultExpires
	default:
		s.Expires = time.Duration(a.Expires) * time.Second
	}
	switch {
	case a.Keepalive < 0 || time.Duration(a.Keepalive)*time.Second > maxKeepalive:
		return fail("keepalive", "want a number of seconds from 1 to %d (0: the default, %d); got %d", int(maxKeepalive/time.Second), int(DefaultKeepalive/time.Second), a.Keepalive)
	case a.Keepalive == 0:
		s.Keepalive = DefaultKeepalive
	default:
		s.Keepalive = time.Duration(a.Keepalive) * time.Second
	}
	return s, nil
}

func withScheme(s string) string {
	l := strings.ToLower(s)
	if strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:") {
		return s
	}
	return "sip:" + s
}

// Name is the account as users know it: the AOR without the scheme (alice@example.org).
func (s Spec) Name() string { return s.AOR.User + "@" + s.Domain() }

// Domain is the AOR's host[:port]: where sip:bob@DOMAIN goes for "call bob".
func (s Spec) Domain() string {
	if s.AOR.Port == 0 {
		return s.AOR.Host
	}
	return net.JoinHostPort(s.AOR.Host, strconv.Itoa(s.AOR.Port))
}

// NextHop is the URI the first request of every transaction is sent to (outbound proxy or
// registrar), with the account's transport.
func (s Spec) NextHop() sip.Uri {
	u := s.Proxy
	u.UriParams = sip.NewParams()
	if s.Transport != "udp" {
		u.UriParams.Add("transport", s.Transport)
	}
	u.UriParams.Add("lr", "")
	return u
}

// HopAddr returns the next hop's host and port, with the transport's default port.
func (s Spec) HopAddr() string {
	port := s.Proxy.Port
	if port == 0 {
		port = 5060
		if s.Transport == "tls" {
			port = 5061
		}
	}
	return net.JoinHostPort(s.Proxy.Host, strconv.Itoa(port))
}

// HopIP returns the next hop's IP address when it is written as one.
func (s Spec) HopIP() (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s.Proxy.Host)
	return ip.Unmap(), err == nil
}

// voicemailURI is the voicemail box as a string, "" when none is configured.
func (s Spec) voicemailURI() string {
	if s.Voicemail.Host == "" {
		return ""
	}
	return s.Voicemail.String()
}
