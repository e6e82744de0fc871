package media

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// RTCP (RFC 3550 §6, https://www.rfc-editor.org/rfc/rfc3550#section-6) on its own socket, the RTP
// port + 1: a sender report (or a receiver report while we do not send) every ~5 s, randomised
// to 0.5-1.5 times that (§6.3.1), with a reception report block on the far end's stream and an
// SDES CNAME; the far end's reports give the round-trip time (§6.4.1: now − LSR − DLSR), the loss
// and the jitter it sees on ours.

// rtcpInterval is the mean time between our reports.
const rtcpInterval = 5 * time.Second

// rtcpState is the RTCP side of a session; mu guards everything but conn.
type rtcpState struct {
	conn *net.UDPConn

	mu         sync.Mutex
	remote     netip.AddrPort // where reports go
	lastSR     uint32         // middle 32 bits of the NTP time of the last SR received
	lastSRAt   time.Time      // when it arrived
	rttMS      float64
	remoteLoss float64
	remoteJit  float64 // ms
	sent, recv uint64
	// For the fraction lost of the next report block (RFC 3550 A.3).
	prevExpected, prevReceived uint64
}

// ntpTime converts t to the 64-bit NTP format (RFC 3550 §4).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// ntpMiddle is the middle 32 bits of an NTP time, the unit of LSR and DLSR (1/65536 s).
func ntpMiddle(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }

// rttFromReport computes the round-trip time from a report block received at now (RFC 3550
// §6.4.1), or false when the block has no LSR yet.
func rttFromReport(now time.Time, lsr, dlsr uint32) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	d := ntpMiddle(now) - lsr - dlsr
	if int32(d) < 0 {
		return 0, false
	}
	return time.Duration(uint64(d) * uint64(time.Second) >> 16), true
}

// rtcpSendLoop sends reports until Close closes s.done.
func (s *Session) rtcpSendLoop() {
	defer s.wg.Done()
	for {
		// RFC 3550 §6.3.1: randomise to [0.5, 1.5] of the interval; the first one goes at half.
		d := time.Duration((0.5 + rand.Float64()) * float64(rtcpInterval))
		t := s.clk.NewTimer(d)
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C():
		}
		s.sendRTCP(s.clk.Now())
	}
}

// sendRTCP sends one compound report: SR or RR, then SDES.
func (s *Session) sendRTCP(now time.Time) {
	r := &s.rtcp
	ssrc := s.snd.hdr.SSRC // set in init, never changed
	var blocks []rtcp.ReceptionReport
	s.mu.Lock()
	if b, ok := s.reportBlock(now); ok {
		blocks = append(blocks, b)
	}
	s.mu.Unlock()

	var first rtcp.Packet
	if sent := s.sent.Load(); sent > 0 && s.Direction().Sends() {
		ts, at := s.lastTS.Load(), s.lastTSAt.Load()
		rtpTime := ts + uint32(now.Sub(time.Unix(0, at))*time.Duration(s.codec.ClockRate)/time.Second)
		first = &rtcp.SenderReport{SSRC: ssrc, NTPTime: ntpTime(now), RTPTime: rtpTime,
			PacketCount: uint32(sent), OctetCount: uint32(s.octets.Load()), Reports: blocks}
	} else {
		first = &rtcp.ReceiverReport{SSRC: ssrc, Reports: blocks}
	}
	sdes := &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: ssrc,
		Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: s.cname}}}}}
	b, err := rtcp.Marshal([]rtcp.Packet{first, sdes})
	if err != nil {
		return
	}
	if s.srtp != nil {
		// SRTCP (RFC 3711 §3.4): encrypted, with its index and authentication tag.
		if b, err = s.srtp.sendRTCP.EncryptRTCP(nil, b, nil); err != nil {
			return
		}
	}
	r.mu.Lock()
	to := r.remote
	r.mu.Unlock()
	if _, err := r.conn.WriteToUDPAddrPort(b, to); err == nil {
		r.mu.Lock()
		r.sent++
		r.mu.Unlock()
	}
}

// reportBlock makes the reception report on the far end's stream. s.mu must be held.
func (s *Session) reportBlock(now time.Time) (rtcp.ReceptionReport, bool) {
	jb := s.jb
	if !jb.haveSSRC || !jb.seq.started {
		return rtcp.ReceptionReport{}, false
	}
	r := &s.rtcp
	sq := &jb.seq
	extMax := sq.cycles + uint32(sq.maxSeq)
	expected := uint64(extMax) - uint64(sq.baseSeq) + 1
	lost := jb.lost()
	r.mu.Lock()
	expInt := expected - min(expected, r.prevExpected)
	recvInt := sq.received - min(sq.received, r.prevReceived)
	r.prevExpected, r.prevReceived = expected, sq.received
	lastSR, lastSRAt := r.lastSR, r.lastSRAt
	r.mu.Unlock()
	var fraction uint8
	if expInt > 0 && expInt > recvInt {
		fraction = uint8((expInt - recvInt) << 8 / expInt)
	}
	var dlsr uint32
	if !lastSRAt.IsZero() {
		dlsr = uint32(now.Sub(lastSRAt) * 65536 / time.Second)
	}
	return rtcp.ReceptionReport{SSRC: jb.ssrc, FractionLost: fraction, TotalLost: uint32(min(lost, 0x7fffff)),
		LastSequenceNumber: extMax, Jitter: uint32(jb.jitter), LastSenderReport: lastSR, Delay: dlsr}, true
}

// rtcpRecvLoop reads the far end's reports. It returns when Close closes the RTCP socket.
func (s *Session) rtcpRecvLoop() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.rtcp.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing() {
				return
			}
			continue
		}
		if s.dtls != nil && isDTLS(buf[:n]) && s.dtls.deliver(true, buf[:n], from) {
			continue
		}
		s.handleRTCP(buf[:n], unmapAddrPort(from), s.clk.Now())
	}
}

// handleRTCP takes one compound packet from the far end: SR timing for our LSR/DLSR, and report
// blocks about our stream. Anything unreadable is ignored.
func (s *Session) handleRTCP(b []byte, from netip.AddrPort, now time.Time) {
	if s.srtp != nil {
		dec, err := s.srtp.recvRTCP.DecryptRTCP(nil, b, nil)
		if err != nil {
			return // not the far end's: unauthenticated, a replay or not SRTCP at all
		}
		b = dec
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	ours := s.snd.hdr.SSRC
	rtpRemote := s.Remote()
	r := &s.rtcp
	r.mu.Lock()
	defer r.mu.Unlock()
	if from != r.remote {
		// Symmetric RTCP, as for RTP, but only from where the RTP comes from (its latching is
		// checked) or while RTP latching is open: a stranger's reports move nothing.
		if from.Addr() != rtpRemote.Addr() && !s.learning.Load() {
			return
		}
		r.remote = from
	}
	r.recv++
	use := func(rr []rtcp.ReceptionReport) {
		for _, b := range rr {
			if b.SSRC != ours {
				continue
			}
			r.remoteLoss = float64(b.FractionLost) / 256
			r.remoteJit = float64(b.Jitter) * 1000 / float64(s.codec.ClockRate)
			if d, ok := rttFromReport(now, b.LastSenderReport, b.Delay); ok {
				r.rttMS = float64(d) / float64(time.Millisecond)
			}
		}
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			r.lastSR = uint32(p.NTPTime >> 16)
			r.lastSRAt = now
			use(p.Reports)
		case *rtcp.ReceiverReport:
			use(p.Reports)
		}
	}
}
