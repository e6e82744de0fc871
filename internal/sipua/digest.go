package sipua

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest authentication for SIP requests (RFC 3261 §22.4, RFC 8760 for SHA-256, qop=auth).

// ErrNoChallenge is returned when a 401/407 carries no digest challenge we can answer.
var ErrNoChallenge = errors.New("no usable digest challenge")

// Challenge is a parsed WWW-Authenticate or Proxy-Authenticate digest challenge.
type Challenge struct {
	*digest.Challenge
	// Proxy is true for Proxy-Authenticate (answered with Proxy-Authorization).
	Proxy bool
}

// algorithmRank orders the algorithms we answer, best first (RFC 8760 §2.4: prefer the strongest).
var algorithmRank = map[string]int{"SHA-512-256": 4, "SHA-256": 3, "MD5": 1, "": 1}

// ParseChallenges parses the digest challenges in header values (WWW-Authenticate or
// Proxy-Authenticate) and returns the best one we can answer: the strongest algorithm, qop=auth or
// no qop. It is pure.
func ParseChallenges(values []string) (*digest.Challenge, error) {
	var best *digest.Challenge
	for _, v := range values {
		c, err := digest.ParseChallenge(v)
		if err != nil {
			continue
		}
		c.Algorithm = strings.ToUpper(c.Algorithm)
		if _, ok := algorithmRank[c.Algorithm]; !ok {
			continue
		}
		if len(c.QOP) > 0 && !c.SupportsQOP("auth") {
			continue
		}
		if best == nil || algorithmRank[c.Algorithm] > algorithmRank[best.Algorithm] {
			best = c
		}
	}
	if best == nil {
		return nil, ErrNoChallenge
	}
	return best, nil
}

// ChallengeOf returns the best challenge of a 401 or 407 response.
func ChallengeOf(res *sip.Response) (*Challenge, error) {
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	var vals []string
	for _, h := range res.GetHeaders(name) {
		vals = append(vals, h.Value())
	}
	c, err := ParseChallenges(vals)
	if err != nil {
		return nil, fmt.Errorf("%d response: %w", res.StatusCode, err)
	}
	return &Challenge{Challenge: c, Proxy: res.StatusCode == 407}, nil
}

// Authorize adds the Authorization (or Proxy-Authorization) header answering chal to req.
// count is the nonce count (1 for a fresh nonce; increment to reuse a nonce). The password never
// leaves this function except as the digest response.
func Authorize(req *sip.Request, chal *Challenge, user, password string, count int) error {
	if count < 1 {
		count = 1
	}
	cred, err := digest.Digest(chal.Challenge, digest.Options{
		Method:   req.Method.String(),
		URI:      req.Recipient.String(),
		Username: user,
		Password: password,
		Count:    count,
	})
	if err != nil {
		return err
	}
	name := "Authorization"
	if chal.Proxy {
		name = "Proxy-Authorization"
	}
	req.RemoveHeader(name)
	req.AppendHeader(sip.NewHeader(name, cred.String()))
	return nil
}
