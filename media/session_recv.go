package media

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtp"

	"trayphone/media/internal/rt"
)

// recvBufferSize holds the largest UDP datagram, so an oversized packet is seen whole and refused
// instead of being cut into something that parses.
const recvBufferSize = 64 << 10

// receiver is the state of the receive goroutine. Only recvLoop (or a test calling handlePacket
// in its place) touches it.
type receiver struct {
	udp rt.UDPReader // reads s.conn (internal/rt/udp_linux.go)
	buf []byte
	pkt rtp.Packet
	// plain and shdr are the decrypted packet and the header the decryption reads, for SRTP.
	plain []byte
	shdr  rtp.Header
	ssrc  uint32
	have  bool // ssrc is set

	latched bool // a packet from another address moved the remote at least once
	// Latching (see latch): learning is open for the first latchLearnPackets packets from the
	// remote, counted in learned, and again after each SetRemote (gen follows s.remoteGen).
	learning bool
	learned  int
	gen      uint64
	// signalled is the remote the SDP gave for this generation (Remote at its start).
	signalled netip.AddrPort
	lastSeq   uint16 // sequence number of the last packet taken from ssrc
	haveEvent bool
	eventTS   uint32 // RFC 4733 timestamp of the last event reported

	limit        rateLimiter // for rare events: latching, SSRC change, read errors
	garbageLimit rateLimiter
	readErrors   int
}

func (r *receiver) init(s *Session) {
	*r = receiver{
		buf:          make([]byte, recvBufferSize),
		plain:        make([]byte, 0, recvBufferSize),
		limit:        rateLimiter{every: 10 * time.Second},
		garbageLimit: rateLimiter{every: 30 * time.Second},
		learning:     true,
		signalled:    *s.remote.Load(),
	}
	s.learning.Store(true)
	r.udp.Init(s.conn)
}

// recvLoop reads the RTP socket. It returns when the socket is closed, which Close does.
func (s *Session) recvLoop() {
	defer s.wg.Done()
	r := &s.rcv
	for {
		n, from, err := r.udp.Read(r.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing() {
				return
			}
			// Windows reports an ICMP port unreachable as a read error on the next read; none of
			// them is fatal for a datagram socket.
			r.readErrors++
			if r.limit.allow(s.clk.Now()) {
				s.log.Warn("rtp read failed", "err", err)
			}
			if r.readErrors > 100 {
				// Do not spin on an error that repeats.
				select {
				case <-s.done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			continue
		}
		r.readErrors = 0
		if s.onSTUN != nil && isSTUN(r.buf[:n]) && s.onSTUN(r.buf[:n], unmapAddrPort(from)) {
			continue
		}
		if s.dtls != nil && isDTLS(r.buf[:n]) && s.dtls.deliver(false, r.buf[:n], from) {
			continue
		}
		s.handlePacket(r.buf[:n], from, s.clk.Now())
	}
}

// isSTUN reports whether b looks like a STUN message (RFC 8489 §5: the first two bits zero, the
// magic cookie 0x2112A442 at bytes 4-7, a length that is a multiple of 4 and fits). RTP and RTCP
// start with version bits 10 and never match.
func isSTUN(b []byte) bool {
	return len(b) >= 20 && b[0]>>6 == 0 && b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xa4 && b[7] == 0x42 &&
		b[3]&3 == 0 && int(b[2])<<8|int(b[3]) == len(b)-20
}

func (s *Session) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// handlePacket checks one datagram and files it: audio into the jitter buffer, telephone-events
// to OnDTMF; anything else is counted and dropped. It allocates nothing for a valid packet from
// the current remote address.
func (s *Session) handlePacket(b []byte, from netip.AddrPort, now time.Time) {
	r := &s.rcv
	switch {
	case len(b) < 12:
		s.dropGarbage(&s.garbage.short, now)
		return
	case b[0]>>6 != 2:
		s.dropGarbage(&s.garbage.notRTP, now)
		return
	case b[1] >= 192 && b[1] <= 223:
		// RFC 5761 §4: RTCP packet types 192-223 occupy this byte, where no RTP payload type
		// we negotiate does.
		s.dropGarbage(&s.garbage.rtcp, now)
		return
	}
	if s.srtp != nil {
		// Nothing of an encrypted session's packet is believed before it authenticates with the
		// far end's key (RFC 3711 §3.3): a stranger's packets stop here, whatever they claim.
		dec, err := s.srtp.recvRTP.DecryptRTP(r.plain[:0], b, &r.shdr)
		if err != nil {
			s.dropGarbage(&s.garbage.unauthentic, now)
			return
		}
		b = dec
	}
	if err := r.pkt.Unmarshal(b); err != nil {
		s.dropGarbage(&s.garbage.malformed, now)
		return
	}
	h := &r.pkt.Header
	audio := h.PayloadType == s.codec.PayloadType
	cn := !audio && s.cnPT != 0 && h.PayloadType == s.cnPT
	event := !audio && !cn && h.PayloadType != 0 && (h.PayloadType == s.evPT || h.PayloadType == s.evRecv)
	if !audio && !cn && !event {
		s.dropGarbage(&s.garbage.unknownPT, now)
		return
	}
	if len(r.pkt.Payload) > maxRTPPayload {
		s.dropGarbage(&s.garbage.oversized, now)
		return
	}

	if !s.latch(from, h.SSRC, h.SequenceNumber, now) {
		s.dropGarbage(&s.garbage.stranger, now)
		return
	}
	s.lastRecv.Store(now.UnixNano())
	if !r.have || r.ssrc != h.SSRC {
		if r.have && r.limit.allow(now) {
			s.log.Info("rtp stream restarted with a new SSRC", "old", r.ssrc, "new", h.SSRC)
		}
		r.have, r.ssrc = true, h.SSRC
		r.haveEvent = false
	}
	r.lastSeq = h.SequenceNumber

	s.mu.Lock()
	s.received++
	switch {
	case audio:
		res := s.jb.insert(rtpIn{ssrc: h.SSRC, seq: h.SequenceNumber, ts: h.Timestamp, marker: h.Marker,
			payload: r.pkt.Payload}, now)
		if s.observeRecv != nil && res == insertQueued {
			s.observeRecv(h.SequenceNumber, r.pkt.Payload)
		}
	case cn:
		// A silence descriptor shares the audio's sequence numbers: the loss statistics count it
		// like an event. It is not played; it sets the comfort noise played in the silence.
		s.jb.insertEvent(h.SSRC, h.SequenceNumber)
		if sid, ok := parseCN(r.pkt.Payload); ok {
			s.cn = cnState{have: true, ts: h.Timestamp, sid: sid}
		}
	default:
		s.jb.insertEvent(h.SSRC, h.SequenceNumber)
	}
	s.mu.Unlock()

	if event {
		s.handleEvent(h.Timestamp, r.pkt.Payload)
	}
}

// latchLearnPackets is how many packets from one address close latching: 200 ms of audio.
const latchLearnPackets = 10

// latchSeqWindow is how far from the stream's last sequence number a packet from a new address
// may be and still be the far end's stream after a NAT rebinding.
const latchSeqWindow = 100

// latch implements symmetric RTP (RFC 4961) without letting a stranger take the call over (the
// "RTP bleed" attack): it reports whether a valid packet from from may be taken, and moves the
// remote when it should.
//
//   - While learning (the first packets of the call, and again after SetRemote: a re-INVITE or a
//     checked network change), a packet from another address than the remote means the far end
//     is behind a NAT, and its packets' source is where ours must go. Learning closes after
//     latchLearnPackets packets from the remote, and at once when a packet comes from the
//     address the SDP gave: the far end is not behind a NAT, so nothing is left to learn and a
//     stranger cannot win the window (if one has moved the remote first, it moves back).
//   - After that, packets from the remote are taken; a packet from another address is taken, and
//     moves the remote, only if it continues the established stream (same SSRC, sequence number
//     within latchSeqWindow): the far end's NAT rebinding. Anything else is a stranger's and is
//     dropped, neither played nor answered.
func (s *Session) latch(from netip.AddrPort, ssrc uint32, seq uint16, now time.Time) bool {
	from = unmapAddrPort(from)
	r := &s.rcv
	// The generation first: SetRemote stores the remote before it counts a new generation, so
	// the remote read after a new one is that generation's signalled address (or a later one).
	g := s.remoteGen.Load()
	old := *s.remote.Load()
	if g != r.gen {
		r.gen, r.learning, r.learned, r.signalled = g, true, 0, old
		s.learning.Store(true)
	}
	if r.learning && from == r.signalled {
		if from != old {
			addr := from // only this branch allocates
			s.remote.Store(&addr)
			s.log.Info("rtp back to the address the far end signalled", "from", old, "to", addr)
		}
		r.learning = false
		s.learning.Store(false)
		return true
	}
	if from == old {
		if r.learning {
			r.learned++
			if r.learned >= latchLearnPackets {
				r.learning = false
				s.learning.Store(false)
			}
		}
		return true
	}
	continues := r.have && ssrc == r.ssrc && seqDistance(seq, r.lastSeq) <= latchSeqWindow
	if !r.learning && !continues {
		if r.limit.allow(now) {
			s.log.Info("ignoring rtp from a stranger's address", "from", from, "remote", old, "ssrc", ssrc)
		}
		return false
	}
	addr := from
	s.remote.Store(&addr)
	r.learned = 1
	if !r.latched || r.limit.allow(now) {
		s.log.Info("rtp latched to the packets' source address", "from", old, "to", addr)
	}
	r.latched = true
	return true
}

// seqDistance is the distance between two RTP sequence numbers, modulo 2^16.
func seqDistance(a, b uint16) uint16 {
	d := a - b
	return min(d, -d)
}

// dropGarbage counts a dropped datagram and logs the counts at most once per interval.
func (s *Session) dropGarbage(c interface{ Add(uint64) uint64 }, now time.Time) {
	c.Add(1)
	if s.rcv.garbageLimit.allow(now) {
		g := &s.garbage
		s.log.Debug("ignoring datagrams on the rtp port",
			"short", g.short.Load(), "not_rtp", g.notRTP.Load(), "rtcp", g.rtcp.Load(),
			"malformed", g.malformed.Load(), "unknown_pt", g.unknownPT.Load(), "oversized", g.oversized.Load(),
			"stranger", g.stranger.Load(), "unauthentic", g.unauthentic.Load())
	}
}

// telephoneEvent is the payload of an RFC 4733 §2.3 named event.
type telephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8 // -dBm0, 0-63
	Duration uint16
}

// parseTelephoneEvent decodes an RFC 4733 §2.3 payload.
func parseTelephoneEvent(b []byte) (telephoneEvent, bool) {
	if len(b) < 4 {
		return telephoneEvent{}, false
	}
	return telephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3f,
		Duration: uint16(b[2])<<8 | uint16(b[3]),
	}, true
}

// eventDigit maps an RFC 4733 §3.2 DTMF event code to its key.
func eventDigit(code uint8) (rune, bool) {
	const keys = "0123456789*#ABCD"
	if int(code) >= len(keys) {
		return 0, false
	}
	return rune(keys[code]), true
}

// handleEvent reports each telephone-event once: all packets of one event, its updates and its
// repeated end packets, carry the event's start timestamp (RFC 4733 §2.5.1).
func (s *Session) handleEvent(ts uint32, payload []byte) {
	r := &s.rcv
	ev, ok := parseTelephoneEvent(payload)
	if !ok || (r.haveEvent && ts == r.eventTS) {
		return
	}
	r.haveEvent, r.eventTS = true, ts
	if d, ok := eventDigit(ev.Event); ok && s.onDTMF != nil {
		s.onDTMF(d)
	}
}
