// Package nat finds out how trayphone is seen from the internet and keeps it reachable: STUN
// binding requests on the sockets in use (RFC 8489), NAT behaviour discovery (RFC 5780), keepalives
// for NAT bindings, port mapping on the home router (UPnP IGD, NAT-PMP), TURN relays (RFC 8656), and a
// monitor that notices network changes and wake from sleep.
//
// Each piece sits behind a small interface so that account and callmgr see only what they need. The
// package never imports sipgo, media or the call and account packages: the SIP and RTP sockets reach it
// as plain send functions and received datagrams (see Prober.Handle).
package nat

import "fmt"

// Behavior is how a NAT maps or filters, per RFC 4787 section 4 and RFC 5780 section 4. The zero
// value is BehaviorUnknown.
type Behavior int

// Behaviours. For mapping, AddressPortDependent is what users call a "symmetric" NAT.
const (
	BehaviorUnknown      Behavior = iota
	NoNAT                         // the mapped address is our own: no NAT in the path
	EndpointIndependent           // one mapping (or open filter) for every destination
	AddressDependent              // per destination address
	AddressPortDependent          // per destination address and port ("symmetric" mapping)
)

var behaviorNames = [...]string{"unknown", "none", "endpoint-independent", "address-dependent", "address-and-port-dependent"}

// String returns the RFC 4787 words: "none", "endpoint-independent", "address-dependent",
// "address-and-port-dependent" or "unknown".
func (b Behavior) String() string {
	if b < 0 || int(b) >= len(behaviorNames) {
		return "unknown"
	}
	return behaviorNames[b]
}

// TypeName returns the NAT type a user sees for a mapping behaviour: "none",
// "endpoint-independent", "address-dependent", "symmetric" or "unknown".
func TypeName(mapping Behavior) string {
	if mapping == AddressPortDependent {
		return "symmetric"
	}
	return mapping.String()
}

// errf builds an error whose text is plain words for users.
func errf(format string, a ...any) error { return fmt.Errorf(format, a...) }
