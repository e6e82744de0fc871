package callmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
	"trayphone/media"
	"trayphone/nat"
)

// NAT is what the call manager needs from NAT traversal (*nat.Traversal in the phone).
type NAT interface {
	// Report is the last discovery of the public address and NAT type (an error before the first
	// one finished, or when it failed).
	Report() (nat.Report, error)
	// TURN is the relay server to fall back on when the NAT is symmetric; ok is false when
	// none is configured.
	TURN() (cfg nat.TURNConfig, ok bool)
	// SIPPublic is the SIP listening socket's public address (STUN on that socket), invalid
	// when unknown.
	SIPPublic() netip.AddrPort
}

// RelayReporter is an optional part of NAT: when the NAT also implements it, it is told (on the
// manager goroutine) the TURN relays that calls' audio goes through, and why, whenever they
// change, for status. An empty list means no relay is in use.
type RelayReporter interface {
	RelaysInUse(relays []RelayUse)
}

// RelayUse is one call's TURN relay and why the call uses it.
type RelayUse = nat.RelayUse

// RelayAdvisor is an optional part of NAT: NeedRelay says whether what was seen beyond the NAT
// type (the STUN server and the registrar seeing the SIP socket at different ports) means calls'
// audio needs the TURN relay, and why in plain words. It must not block.
type RelayAdvisor interface {
	NeedRelay() (why string, ok bool)
}

// reportRelays tells a RelayReporter which relays are in use now.
func (m *Manager) reportRelays() {
	rr, ok := m.cfg.NAT.(RelayReporter)
	if !ok {
		return
	}
	var relays []RelayUse
	for _, st := range m.nat.calls {
		if st.relay != nil {
			relays = append(relays, RelayUse{Addr: st.relay.Addr(), Why: st.why})
		}
	}
	slices.SortFunc(relays, func(a, b RelayUse) int { return a.Addr.Compare(b.Addr) })
	rr.RelaysInUse(relays)
}

// relayReason says why a new call's audio needs the TURN relay, "" when nothing says so yet.
func (m *Manager) relayReason(rep nat.Report) string {
	var advice func() (string, bool)
	if a, ok := m.cfg.NAT.(RelayAdvisor); ok {
		advice = a.NeedRelay
	}
	return nat.RelayReason(rep, advice)
}

// noAudioReason is why a call moved to the relay mid-call.
const noAudioReason = "no audio arrived in the first 2 s of the call"

// Timings of media NAT handling.
const (
	// noRTPAfter is how long after answer a call with no audio from the far end gets a warning.
	noRTPAfter = 2 * time.Second
	// mediaKeepalive is how often a media socket that sends nothing (on hold) sends a STUN
	// binding indication, below common NAT UDP timeouts (~30 s).
	mediaKeepalive = 25 * time.Second
	// rtpSTUNWait bounds the STUN binding on a call's RTP socket (two tries; the call is waiting).
	rtpSTUNWait = nat.AudioSTUNWait
)

// natCall is what NAT traversal keeps for one call. Owned by the manager goroutine.
type natCall struct {
	public   netip.AddrPort // the RTP socket's public address for SDP; invalid: the local one
	relay    *nat.Relay     // the TURN allocation media goes through, if any
	why      string         // why the audio goes through the relay (or, with symNoRel, would need one)
	base     *net.UDPConn   // the socket the relay runs over (the call's RTP socket)
	bridged  bool           // the media session's audio goes through the relay's bridge
	proxy    netip.AddrPort // then: the bridge's address standing for the far end
	symNoRel bool           // behind a symmetric NAT without a relay: media may not get through
	prober   *nat.Prober    // STUN on the live RTP socket (answers come through the session's OnSTUN)
	relaying bool           // a mid-call relay is being allocated
	warned   bool           // the no-RTP warning was given
	done     chan struct{}  // closed when the call's media stops: ends its watcher
}

// natState is the manager's NAT bookkeeping.
type natState struct {
	calls map[*call]*natCall
}

func (m *Manager) natFor(c *call) *natCall {
	if m.nat.calls == nil {
		m.nat.calls = map[*call]*natCall{}
	}
	st := m.nat.calls[c]
	if st == nil {
		st = &natCall{}
		m.nat.calls[c] = st
	}
	return st
}

// behindNAT returns the NAT report when a call from localIP goes out the way STUN saw: the
// discovery's local address, or the public address an account learned from its registrar.
func (m *Manager) behindNAT(localIP netip.Addr) (nat.Report, bool) {
	if m.cfg.NAT == nil {
		return nat.Report{}, false
	}
	rep, err := m.cfg.NAT.Report()
	return rep, err == nil && rep.Behind(localIP)
}

// natOpen finds how the far end reaches the call's new RTP socket (nat.OpenAudio: a STUN binding
// on the socket itself, or behind a symmetric NAT with a TURN server configured a relay
// allocated on it), then runs then on the manager goroutine. That takes up to seconds, so it
// runs off the manager goroutine and posts its result back (natOpened); a hang-up or CANCEL
// meanwhile is handled at once, and fail hears errCallGone instead of then running. Without a
// NAT on the way then runs at once and its error is natOpen's; after work off the goroutine, a
// failing then goes to fail.
func (m *Manager) natOpen(c *call, then func() error, fail func(error)) error {
	rep, ok := m.behindNAT(c.localIP)
	if !ok || c.rtp == nil {
		return then()
	}
	why := m.relayReason(rep)
	var turn *nat.TURNConfig
	if why != "" {
		if cfg, ok := m.cfg.NAT.TURN(); ok {
			turn = &cfg
		}
	}
	conn := c.rtp
	// Returns after nat.OpenAudio, at most nat.TURNWait + nat.AudioSTUNWait.
	m.offLoop(func() (back, release func()) {
		path := nat.OpenAudio(conn, rep, turn)
		back = func() { m.natOpened(c, conn, path, why, then, fail) }
		if path.Relay != nil {
			release = func() { path.Relay.Close() }
		}
		return back, release
	})
	return nil
}

// errCallGone is why a call's start went no further: the call ended (a hang-up, a CANCEL) while
// its start waited for the network or the sound card.
var errCallGone = errors.New("the call ended before its audio was ready")

// natOpened takes nat.OpenAudio's result for c's RTP socket conn on the manager goroutine and goes
// on with then. A call that ended meanwhile, or whose socket changed, goes no further: the relay
// is released and fail hears errCallGone.
func (m *Manager) natOpened(c *call, conn *net.UDPConn, path nat.AudioPath, why string, then func() error, fail func(error)) {
	if c.state == phone.CallEnded || c.rtp != conn {
		if path.Relay != nil {
			path.Relay.Close()
		}
		fail(errCallGone)
		return
	}
	st := m.natFor(c)
	switch {
	case path.Relay != nil:
		st.relay, st.base, st.public, st.why = path.Relay, conn, path.Public, why
		m.reportRelays()
		m.log.Info("audio goes through a TURN relay", "call", c.id, "relay", path.Public, "why", why)
	default:
		if path.RelayErr != nil {
			m.warn(c, fmt.Sprintf("could not get a TURN relay for the call's audio: %v", path.RelayErr))
		}
		if why != "" {
			st.symNoRel, st.why = true, why
		}
		st.public = path.Public
		if path.STUNErr != nil {
			m.log.Info("no STUN answer on the audio socket; assuming the NAT keeps its port", "call", c.id, "err", path.STUNErr, "public", st.public)
		} else {
			m.log.Debug("audio socket's public address", "call", c.id, "public", st.public)
		}
	}
	if err := then(); err != nil {
		fail(err)
	}
}

// directContact is the Contact of a direct (account-less) outgoing call: behind a NAT, the SIP
// socket's public address, so the far end's in-dialog requests (BYE, re-INVITE) reach us.
// Calls through an account use the Contact its registrar taught it (rport/received) instead.
func (m *Manager) directContact(c *call) sip.Uri {
	contact := sip.Uri{Scheme: "sip", User: m.ua.User, Host: c.localIP.String(), Port: m.ua.Port}
	if _, ok := m.behindNAT(c.localIP); ok {
		if pub := m.cfg.NAT.SIPPublic(); pub.IsValid() {
			contact.Host, contact.Port = pub.Addr().String(), int(pub.Port())
		}
	}
	return contact
}

// sdpAddr is the address and port our SDP advertises for c's audio: the relay's or the public
// one when behind a NAT, else the local one.
func (m *Manager) sdpAddr(c *call) (netip.Addr, int) {
	if st := m.nat.calls[c]; st != nil && st.public.IsValid() {
		return st.public.Addr(), int(st.public.Port())
	}
	return c.localIP, localPort(c)
}

// mediaConn is the socket and far-end address the media session gets: the relay's bridge when
// the call goes through TURN.
func (m *Manager) mediaConn(c *call) (*net.UDPConn, netip.AddrPort, error) {
	st := m.nat.calls[c]
	if st == nil || st.relay == nil || !c.remoteRTP.IsValid() {
		return c.rtp, c.remoteRTP, nil
	}
	app, peer, err := st.relay.Bridge(c.remoteRTP)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	st.bridged, st.proxy = true, peer
	return app, peer, nil
}

// rtpTarget is where c's media session sends: the relay bridge's stand-in for the far end when
// the audio goes through TURN, else the far end's SDP address.
func (m *Manager) rtpTarget(c *call) netip.AddrPort {
	if st := m.nat.calls[c]; st != nil && st.bridged {
		return st.proxy
	}
	return c.remoteRTP
}

// natStarted runs once c's media session has started: it arms the no-RTP check and the
// keepalive for idle media.
func (m *Manager) natStarted(c *call) {
	st := m.natFor(c)
	if st.done != nil {
		return
	}
	st.done = make(chan struct{})
	done, id := st.done, c.id
	// Ends when the call's media stops (natForget closes done) or the phone stops.
	go func() {
		check := m.clk.NewTimer(noRTPAfter)
		defer check.Stop()
		keep := m.clk.NewTimer(mediaKeepalive)
		defer keep.Stop()
		lost := m.clk.NewTimer(m.rtpCheckEvery())
		defer lost.Stop()
		for {
			select {
			case <-done:
				return
			case <-m.ctxDone():
				return
			case <-check.C():
				m.post(func() { m.checkRTP(id) })
			case <-keep.C():
				m.post(func() { m.keepalive(id) })
				keep.Reset(mediaKeepalive)
			case <-lost.C():
				m.post(func() { m.checkRTPTimeout(id) })
				lost.Reset(m.rtpCheckEvery())
			}
		}
	}()
}

func (m *Manager) ctxDone() <-chan struct{} {
	if m.ctx == nil {
		return nil
	}
	return m.ctx.Done()
}

// natForget releases c's NAT state when its media stops: the watcher ends, the relay closes.
func (m *Manager) natForget(c *call) {
	st := m.nat.calls[c]
	if st == nil {
		return
	}
	delete(m.nat.calls, c)
	if st.done != nil {
		close(st.done)
	}
	if st.relay != nil {
		st.relay.Close()
		if st.base != nil {
			st.base.Close() // the relay's base socket: the call's RTP socket, or its own (mid-call)
		}
		m.reportRelays()
	}
}

// checkRTP warns, once per call, when no audio arrived within noRTPAfter of the media starting,
// with the likely cause in plain words, and tries the remedies there are.
func (m *Manager) checkRTP(id string) {
	c := m.calls[id]
	if c == nil || c.sess == nil || c.hidden || c.state == phone.CallEnded {
		return
	}
	st := m.natFor(c)
	if st.warned || !c.sess.LastReceived().IsZero() || c.localHold || c.remHold {
		return
	}
	st.warned = true
	cfg, relay := m.relayCandidate(c, st)
	msg := noRTPMessage(c.remote, st)
	if relay {
		msg += fmt.Sprintf(" Trying to route the call's audio through the TURN relay %s.", cfg.Server)
	}
	m.warn(c, msg)
	// Remedies: a packet towards the far end now re-opens our NAT's pinhole for its replies; and
	// behind a NAT that filters or maps per destination, a TURN relay if one is configured.
	m.keepaliveTo(c)
	if relay {
		m.log.Info("no audio arriving; moving the call's audio to a TURN relay", "call", c.id, "turn", cfg.Server)
		m.relayMidCall(c, st, cfg)
	}
}

// relayCandidate reports whether c's audio should move to a TURN relay because none arrived: it
// is not relayed yet, the call goes through a NAT (whatever its type: a STUN server that cannot
// run the RFC 5780 tests leaves it unknown, and no audio is the evidence that counts), and a TURN
// server is configured.
func (m *Manager) relayCandidate(c *call, st *natCall) (nat.TURNConfig, bool) {
	if st.relay != nil || st.relaying || c.reinviting || c.sess == nil || !c.remoteRTP.IsValid() {
		return nat.TURNConfig{}, false
	}
	if _, ok := m.behindNAT(c.localIP); !ok {
		return nat.TURNConfig{}, false
	}
	return m.cfg.NAT.TURN()
}

// relayMidCall moves c's audio to the TURN relay cfg (see relayCandidate): it allocates a relay
// on a socket of its own, bridges the media session's socket to it, and re-INVITEs with the
// relay's address (RFC 3264 §8). The allocation runs off the manager goroutine; the rest follows
// in relayReady.
func (m *Manager) relayMidCall(c *call, st *natCall, cfg nat.TURNConfig) {
	st.relaying = true
	id, peer := c.id, c.remoteRTP
	app := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), c.sess.LocalAddr().Port())
	// Returns when the allocation is done or has timed out (nat.AllocateTimeout bounds it).
	go func() {
		var (
			relay *nat.Relay
			proxy netip.AddrPort
		)
		base, err := net.ListenUDP("udp4", nil)
		if err == nil {
			if relay, err = nat.AllocateTimeout(base, cfg, nat.TURNWait); err == nil {
				proxy, err = relay.BridgeTo(peer, app)
			}
		}
		m.post(func() { m.relayReady(id, st, base, relay, proxy, err) })
	}()
}

// relayReady takes a mid-call relay into use: media goes through its bridge at once, and the far
// end is asked to send to the relay. A refusal takes it out of use again.
func (m *Manager) relayReady(id string, st *natCall, base *net.UDPConn, relay *nat.Relay, proxy netip.AddrPort, err error) {
	release := func() {
		if relay != nil {
			relay.Close()
		}
		if base != nil {
			base.Close()
		}
	}
	st.relaying = false
	c := m.calls[id]
	if c == nil || c.state == phone.CallEnded || c.sess == nil || m.nat.calls[c] != st {
		release()
		return
	}
	if err != nil {
		release()
		m.warn(c, fmt.Sprintf("could not get a TURN relay for the call's audio: %v", err))
		return
	}
	if c.reinviting || c.dialog() == nil {
		release()
		m.log.Info("a re-INVITE is under way; not moving the audio to the TURN relay now", "call", id)
		return
	}
	// A relay already in use (a network change made a new one necessary) is replaced; it is
	// closed once the far end took the new one, and back in use if it refused.
	oldPublic, prevRelay, prevBase, prevProxy, prevWhy := st.public, st.relay, st.base, st.proxy, st.why
	why := noAudioReason
	if prevRelay != nil {
		why = prevWhy
	}
	st.relay, st.base, st.bridged, st.proxy, st.public, st.why = relay, base, true, proxy, relay.Addr(), why
	c.sess.SetRemote(proxy)
	m.reportRelays()
	undo := func() {
		st.relay, st.base, st.bridged, st.proxy, st.public, st.why = prevRelay, prevBase, prevRelay != nil, prevProxy, oldPublic, prevWhy
		release()
		m.reportRelays()
		switch {
		case c.sess == nil:
		case prevRelay != nil:
			c.sess.SetRemote(prevProxy)
		case c.remoteRTP.IsValid():
			c.sess.SetRemote(c.remoteRTP)
		}
	}
	body, err := m.buildOffer(c)
	if err != nil {
		undo()
		return
	}
	m.reinvite(c, body, func(res *sip.Response, err error) {
		if c.state == phone.CallEnded || m.nat.calls[c] != st {
			return // natForget released the relay
		}
		switch {
		case err != nil:
			undo()
			m.warn(c, fmt.Sprintf("could not move the call's audio to the TURN relay: %v", err))
		case !res.IsSuccess():
			undo()
			m.warn(c, fmt.Sprintf("%s refused our TURN relay address (%d %s); the call may stay without audio", c.remote, res.StatusCode, res.Reason))
		default:
			if err := m.applyAnswer(c, res.Body(), nil); err != nil {
				m.warn(c, fmt.Sprintf("the answer from %s to our TURN relay address was not usable: %v", c.remote, err))
			}
			m.log.Info("the call's audio now goes through the TURN relay", "call", c.id, "relay", relay.Addr())
			if prevRelay != nil {
				prevRelay.Close()
				if prevBase != nil {
					prevBase.Close()
				}
			}
			m.changed(c)
		}
	})
}

// noRTPMessage says in plain words why no audio arrives and what would help.
func noRTPMessage(remote string, st *natCall) string {
	switch {
	case st.relay != nil:
		return fmt.Sprintf("No audio is arriving from %s, even through the TURN relay: the far end's audio is probably blocked by a firewall on its side.", remote)
	case st.symNoRel:
		return fmt.Sprintf("No audio is arriving from %s: %s, which blocks the far end's audio; a TURN relay is needed (set [turn] server and username in the config, and the password with \"trayphone turn password\").", remote, st.why)
	case st.public.IsValid():
		return fmt.Sprintf("No audio is arriving from %s: the far end's audio is probably blocked by a firewall; a TURN relay may be needed. Our audio may not reach them either.", remote)
	}
	return fmt.Sprintf("No audio is arriving from %s: the far end's audio is probably blocked by a firewall or a NAT on the way; our audio may not reach them either.", remote)
}

// keepalive keeps the NAT binding of a call's media open while the session sends nothing.
func (m *Manager) keepalive(id string) {
	c := m.calls[id]
	if c == nil || c.sess == nil {
		return
	}
	if d := mediaDirection(c); d == media.SendRecv || d == media.SendOnly {
		return // RTP itself keeps the binding
	}
	m.keepaliveTo(c)
}

// keepaliveTo sends a STUN binding indication from the call's media socket to the far end: every
// RTP stack drops it (it is not RTP), and every NAT on the way refreshes the binding.
func (m *Manager) keepaliveTo(c *call) {
	st := m.nat.calls[c]
	if st != nil && st.bridged {
		return // through TURN: the relay client refreshes the allocation and permissions
	}
	remote := c.sess.Remote()
	if c.rtp == nil || !remote.IsValid() {
		return
	}
	_, _ = c.rtp.WriteToUDPAddrPort(nat.BindingIndication(), remote)
}

// natSTUN is the media session's OnSTUN for c on conn: STUN answers on the live RTP socket go to
// the call's prober, so that after a network change a binding on the socket itself finds its new
// public address. Nil without NAT traversal, or when the session runs on a relay's bridge.
func (m *Manager) natSTUN(c *call, conn *net.UDPConn) func([]byte, netip.AddrPort) bool {
	if m.cfg.NAT == nil || conn == nil || conn != c.rtp {
		return nil
	}
	st := m.natFor(c)
	st.prober = nat.NewProber(nat.PacketSender(conn), nil)
	return st.prober.Handle
}

// NetworkChanged re-offers every answered call with our new address after a network change or
// wake-up (a re-INVITE with a new c=), so the far end sends its audio where we are now. A call
// that goes through no NAT and whose local address towards the far end did not change is left
// alone (an IPv6 address coming and going must not re-INVITE every call). It is safe from any
// goroutine and does not wait.
func (m *Manager) NetworkChanged() {
	m.post(func() {
		for _, c := range m.calls {
			if !c.answered() || c.hidden || c.sess == nil {
				continue
			}
			if m.nat.calls[c] == nil && c.remoteRTP.IsValid() && m.ua.LocalIPFor(c.remoteRTP.Addr()) == c.localIP {
				continue
			}
			m.rediscover(c)
		}
	})
}

// rediscover re-offers c after a network change. Behind a NAT it first asks the STUN server, from
// the call's live RTP socket, for that socket's new public address and port (the new NAT's mapping
// need not keep the port); without an answer the re-offer assumes the port was kept.
func (m *Manager) rediscover(c *call) {
	st := m.nat.calls[c]
	if st != nil && st.relay != nil && st.bridged && !st.relaying && !c.reinviting {
		// A TURN allocation belongs to the 5-tuple it was made from (RFC 8656 §2.2): from a new
		// address the server no longer knows us. A new relay from a new socket, then a re-INVITE.
		if cfg, ok := m.cfg.NAT.TURN(); ok {
			m.log.Info("network changed: moving the call's audio to a new TURN relay", "call", c.id, "turn", cfg.Server)
			m.relayMidCall(c, st, cfg)
			return
		}
	}
	if st == nil || st.prober == nil || st.relay != nil {
		m.reofferAddress(c, false)
		return
	}
	rep, ok := m.behindNAT(m.ua.LocalIPFor(c.remoteRTP.Addr()))
	if !ok || !rep.Server.IsValid() {
		m.reofferAddress(c, false)
		return
	}
	p, id := st.prober, c.id
	// Returns after one binding transaction, at most rtpSTUNWait.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), rtpSTUNWait)
		defer cancel()
		r, err := p.Bind(ctx, rep.Server)
		m.post(func() {
			c := m.calls[id]
			if c == nil || c.state == phone.CallEnded || m.nat.calls[c] != st {
				return
			}
			if err != nil {
				m.log.Info("no STUN answer on the audio socket after the network change; assuming the NAT keeps its port", "call", id, "err", err)
				m.reofferAddress(c, false)
				return
			}
			m.log.Debug("audio socket's new public address", "call", id, "public", r.Mapped)
			st.public = r.Mapped
			m.reofferAddress(c, true)
		})
	}()
}

// reofferAddress sends a re-INVITE (RFC 3264 §8) with c's current media address, on the pattern of
// setHold (hold.go), keeping the hold state as it is. found says st.public was just found by STUN
// on the media socket; otherwise, behind a NAT, the new public address is taken with our port.
func (m *Manager) reofferAddress(c *call, found bool) {
	if c.reinviting {
		return
	}
	dlg := c.dialog()
	if dlg == nil {
		return
	}
	if st := m.nat.calls[c]; st != nil && st.relay == nil && !found {
		// The NAT's new public address, port kept (port-preserving NATs, Linux MASQUERADE).
		if rep, ok := m.behindNAT(m.ua.LocalIPFor(c.remoteRTP.Addr())); ok {
			st.public = netip.AddrPortFrom(rep.Public.Addr(), uint16(localPort(c)))
		}
	}
	c.localIP = m.ua.LocalIPFor(c.remoteRTP.Addr())
	body, err := m.buildOffer(c)
	if err != nil {
		return
	}
	m.log.Info("network changed: sending our new address to the far end", "call", c.id)
	m.reinvite(c, body, func(res *sip.Response, err error) {
		if c.state == phone.CallEnded {
			return
		}
		switch {
		case err != nil:
			m.warn(c, fmt.Sprintf("could not tell %s our new network address: %v; the call may lose audio", c.remote, err))
		case !res.IsSuccess():
			m.warn(c, fmt.Sprintf("%s refused our new network address (%d %s); the call may lose audio", c.remote, res.StatusCode, res.Reason))
		default:
			if err := m.applyAnswer(c, res.Body(), nil); err != nil {
				m.warn(c, fmt.Sprintf("the answer from %s to our new address was not usable: %v", c.remote, err))
			}
			if st := m.nat.calls[c]; c.sess != nil && c.remoteRTP.IsValid() && (st == nil || !st.bridged) {
				c.sess.SetRemote(c.remoteRTP)
			}
		}
	})
}

// rtpCheckEvery is how often a call is checked for a far end that went silent for good.
func (m *Manager) rtpCheckEvery() time.Duration { return min(5*time.Second, m.rtpTimeout()/4) }

// checkRTPTimeout hangs up a call whose far end has sent nothing for RTPTimeout while it should
// be sending (not on hold either way): the far end vanished without a BYE (crash, lost network).
func (m *Manager) checkRTPTimeout(id string) {
	c := m.calls[id]
	if c == nil || c.sess == nil || c.state != phone.CallActive || c.localHold || c.remHold || m.cfg.RTPTimeout < 0 {
		return
	}
	last := c.sess.LastReceived()
	if last.IsZero() {
		last = c.mediaAt
	}
	if silent := m.clk.Now().Sub(last); silent >= m.rtpTimeout() {
		m.hangup(c, fmt.Sprintf("no audio from %s for %s: the connection to the far end was lost", c.remote, silent.Round(time.Second)), nil)
	}
}

// rtpTimeout is Config.RTPTimeout with its default.
func (m *Manager) rtpTimeout() time.Duration {
	switch {
	case m.cfg.RTPTimeout == 0:
		return defaultRTPTimeout
	case m.cfg.RTPTimeout < 0:
		return 24 * time.Hour // never, in practice; checkRTPTimeout also skips
	}
	return m.cfg.RTPTimeout
}
