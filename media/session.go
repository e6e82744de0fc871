package media

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/media/internal/rt"
)

// Direction is the media direction of a stream from our side (RFC 3264 §5.1). The zero value is
// SendRecv, so a SessionConfig without one sends and plays.
type Direction int

// Directions.
const (
	SendRecv Direction = iota // we send and play
	SendOnly                  // we send and do not play (we put the call on hold, a=sendonly)
	RecvOnly                  // we play and do not send (the far end holds us, a=recvonly)
	Inactive                  // neither
)

var directionNames = [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}

// String returns the SDP attribute name of d.
func (d Direction) String() string {
	if d < 0 || int(d) >= len(directionNames) {
		return "unknown"
	}
	return directionNames[d]
}

// Sends reports whether we send RTP in direction d.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Plays reports whether we play received audio in direction d.
func (d Direction) Plays() bool { return d == SendRecv || d == RecvOnly }

// SessionConfig is what a Session needs: the call manager fills it from the negotiated SDP.
type SessionConfig struct {
	// Conn is the RTP socket (see ListenRTP). The session owns it from NewSession on and closes it.
	Conn *net.UDPConn
	// RTCPConn, if set, is the RTCP socket (see ListenRTP); the session owns it like Conn and
	// sends and reads RTCP reports on it.
	RTCPConn *net.UDPConn
	// Remote is where RTP goes, from the remote SDP; symmetric RTP may replace it (latching).
	Remote netip.AddrPort
	// Codec is the negotiated audio codec.
	Codec Codec
	// TelephoneEventPT is the negotiated RFC 4733 payload type, 0 for none. Its clock is the
	// codec's (RFC 4733 §2.1): event timestamps and durations count in Codec.ClockRate units.
	TelephoneEventPT uint8
	// TelephoneEventRecvPT, if set, is a further payload type whose telephone-events are
	// received (not sent): the far end's events at another clock rate than the codec's, which
	// some phones send anyway (baresip sends telephone-event/8000 in Opus calls).
	TelephoneEventRecvPT uint8
	// ComfortNoisePT is the negotiated RFC 3389 comfort-noise payload type, 0 for none. With it
	// the session plays comfort noise when the far end's silence descriptors say so, and, unless
	// NoVAD, sends descriptors instead of audio while the user is silent.
	ComfortNoisePT uint8
	// NoVAD sends every frame even when the user is silent: no comfort-noise descriptors in
	// place of G.711/G.722 silence, no Opus DTX.
	NoVAD bool
	// Stream is the open audio device. The session owns it and closes it.
	Stream Stream
	// Direction is the initial media direction.
	Direction Direction
	// OnDTMF, if set, is called with each received telephone-event digit ('0'-'9', '*', '#',
	// 'A'-'D'), once per event. It runs on the receive goroutine and must not block.
	OnDTMF func(digit rune)
	// OnSTUN, if set, is offered each received datagram that is a STUN message (RFC 8489 §5:
	// two zero bits and the magic cookie), e.g. answers to binding requests the call manager
	// sends from this socket. It runs on the receive goroutine, must not block or keep b, and
	// reports whether it took the datagram; untaken ones are dropped as not RTP.
	OnSTUN func(b []byte, from netip.AddrPort) bool
	// Realtime lets the session move the process's threads to the real-time scheduling class
	// (internal/rt/sched_linux.go) when its ticks show the computer is busy (realtime.go), until it
	// closes, where the system permits it, so that a busy computer does not make the audio
	// stutter; where it does not, the session logs that once and runs as it is.
	Realtime bool
	// SteadySend lets the session send its packets from two timer threads, SteadyLead after
	// they are ready, when its ticks show that this computer wakes threads late (steady.go), so
	// that they still leave on a steady 20 ms grid.
	SteadySend bool
	// SRTP, if set, encrypts and authenticates the RTP and RTCP of the session (srtp.go): what
	// is sent is protected with SRTP.LocalKey, and what is received is dropped unless it
	// authenticates with SRTP.RemoteKey. Nil is plain RTP.
	SRTP *SRTPConfig
	// DTLS, if set, is the DTLS-SRTP association SRTP's keys came from (HandshakeDTLS): the
	// session hands it the DTLS records that arrive on its sockets (RFC 7983: first byte 20-63)
	// and closes it, with close_notify, before its sockets. The session owns it from
	// NewSession on.
	DTLS *DTLS
	// Clock paces the stream; nil means the real clock.
	Clock clock.Clock
	// Log receives the session's rare messages; nil discards them.
	Log *slog.Logger
}

// rtWarned is set once the process has said that it runs without real-time scheduling.
var rtWarned atomic.Bool

// Option changes a Session for tests.
type Option func(*Session)

// WithSendObserver calls f from the send goroutine just before each RTP packet is sent, with the
// time, sequence number and timestamp of the packet. It must not block.
func WithSendObserver(f func(at time.Time, seq uint16, ts uint32)) Option {
	return func(s *Session) { s.observe = f }
}

// WithReceiveObserver calls f from the receive goroutine with the sequence number and payload of
// each audio packet accepted for playout; payload is only borrowed for the call. It must not
// block.
func WithReceiveObserver(f func(seq uint16, payload []byte)) Option {
	return func(s *Session) { s.observeRecv = f }
}

// garbage counts received datagrams that were not played, by reason.
type garbage struct {
	short, notRTP, rtcp, malformed, unknownPT, oversized atomic.Uint64
	// unauthentic counts SRTP packets that failed authentication or the replay check.
	unauthentic atomic.Uint64
	// stranger counts valid RTP from another address than the remote's that may not move it
	// (session_recv.go latch).
	stranger atomic.Uint64
}

func (g *garbage) total() uint64 {
	return g.short.Load() + g.notRTP.Load() + g.rtcp.Load() + g.malformed.Load() +
		g.unknownPT.Load() + g.oversized.Load() + g.stranger.Load() + g.unauthentic.Load()
}

// Session is the RTP session of one call's audio stream: a send goroutine paces 20 ms frames from
// the Stream onto the network and plays the frame the jitter buffer has due, a receive goroutine
// files arriving packets into the jitter buffer.
type Session struct {
	conn   *net.UDPConn
	codec  Codec
	evPT   uint8
	evRecv uint8 // TelephoneEventRecvPT
	cnPT   uint8
	stream Stream
	clk    clock.Clock
	log    *slog.Logger
	onDTMF func(rune)
	onSTUN func([]byte, netip.AddrPort) bool
	dtls   *DTLS // nil unless keyed by DTLS-SRTP
	// srtp holds the SRTP contexts of an encrypted session, nil for plain RTP. Set in
	// NewSession, never changed.
	srtp *srtpContexts

	observe     func(time.Time, uint16, uint32)
	observeRecv func(seq uint16, payload []byte)

	direction atomic.Int32
	muted     atomic.Bool
	// rec, if set, records each tick's sent and played frames (SetRecorder).
	rec    atomic.Pointer[Recorder]
	remote atomic.Pointer[netip.AddrPort]
	// remoteGen counts SetRemote calls: each opens latching again (session_recv.go latch).
	remoteGen atomic.Uint64
	// learning is true while latching is open; the receive goroutine writes it, RTCP reads it.
	learning atomic.Bool
	sent     atomic.Uint64
	// concealed, delayChanges and stalls count what the send goroutine did (MediaStats).
	concealed, delayChanges, stalls atomic.Uint64
	lastRecv                        atomic.Int64 // UnixNano of the last valid RTP packet, 0 for none
	garbage                         garbage

	mu sync.Mutex // guards jb, received and cn
	jb *jitterBuffer
	// received counts valid RTP packets of our payload types.
	received uint64
	// cn is the far end's latest comfort-noise descriptor.
	cn cnState

	snd sender
	rcv receiver

	rtcp     rtcpState
	cname    string
	octets   atomic.Uint64 // payload octets sent, for the SR
	lastTS   atomic.Uint32 // RTP timestamp of the last audio packet sent
	lastTSAt atomic.Int64  // and when, UnixNano

	realtime bool      // may ask for real-time scheduling
	steady   bool      // may send from timer threads (SteadySend)
	stFrom   int64     // tests: start steady send at this tick, whatever the trigger says
	rtTrig   rtTrigger // the send goroutine's
	rtHeld   bool      // the send goroutine asked; read by Close after the goroutine ended

	startOnce sync.Once
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	wg        sync.WaitGroup
}

// NewSession checks cfg and prepares a session; Start starts it. The session owns cfg.Conn and
// cfg.Stream from now on, also when NewSession fails.
func NewSession(cfg SessionConfig, opts ...Option) (*Session, error) {
	if err := checkSessionConfig(cfg); err != nil {
		if cfg.Conn != nil {
			cfg.Conn.Close()
		}
		if cfg.RTCPConn != nil {
			cfg.RTCPConn.Close()
		}
		if cfg.Stream != nil {
			cfg.Stream.Close()
		}
		cfg.DTLS.Close()
		return nil, err
	}
	s := &Session{
		conn:     cfg.Conn,
		codec:    cfg.Codec,
		evPT:     cfg.TelephoneEventPT,
		evRecv:   cfg.TelephoneEventRecvPT,
		cnPT:     cfg.ComfortNoisePT,
		stream:   cfg.Stream,
		clk:      cfg.Clock,
		log:      cfg.Log,
		realtime: cfg.Realtime,
		steady:   cfg.SteadySend,
		onDTMF:   cfg.OnDTMF,
		onSTUN:   cfg.OnSTUN,
		dtls:     cfg.DTLS,
		done:     make(chan struct{}),
	}
	if cfg.SRTP != nil {
		x, err := newSRTPContexts(cfg.SRTP)
		if err != nil {
			cfg.Conn.Close()
			if cfg.RTCPConn != nil {
				cfg.RTCPConn.Close()
			}
			cfg.Stream.Close()
			cfg.DTLS.Close()
			return nil, fmt.Errorf("new rtp session: %w", err)
		}
		s.srtp = x
	}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "rtp", "codec", cfg.Codec.Name)
	s.direction.Store(int32(cfg.Direction))
	remote := unmapAddrPort(cfg.Remote)
	s.remote.Store(&remote)
	s.jb = newJitterBuffer(cfg.Codec.ClockRate, cfg.Codec.TimestampStep(), defaultPlayoutDelay)
	s.snd.init(s, !cfg.NoVAD)
	s.rcv.init(s)
	s.rtcp.conn = cfg.RTCPConn
	s.rtcp.remote = rtcpAddr(remote)
	s.cname = fmt.Sprintf("trayphone-%08x", s.snd.hdr.SSRC)
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func checkSessionConfig(cfg SessionConfig) error {
	c := cfg.Codec
	switch {
	case cfg.Conn == nil:
		return errors.New("new rtp session: no socket")
	case cfg.Stream == nil:
		return errors.New("new rtp session: no audio stream")
	case !cfg.Remote.IsValid():
		return fmt.Errorf("new rtp session: invalid remote address %v", cfg.Remote)
	case c.NewEncoder == nil || c.NewDecoder == nil:
		return fmt.Errorf("new rtp session: codec %q has no encoder or decoder", c.Name)
	case c.PayloadType > 127 || c.ClockRate <= 0 || c.SampleRate <= 0 || c.FrameSamples() <= 0 ||
		c.TimestampStep() == 0:
		return fmt.Errorf("new rtp session: codec %q: invalid payload type %d, clock rate %d or sample rate %d",
			c.Name, c.PayloadType, c.ClockRate, c.SampleRate)
	case cfg.TelephoneEventPT > 127 || (cfg.TelephoneEventPT != 0 && cfg.TelephoneEventPT == c.PayloadType):
		return fmt.Errorf("new rtp session: invalid telephone-event payload type %d", cfg.TelephoneEventPT)
	case cfg.TelephoneEventRecvPT > 127 || (cfg.TelephoneEventRecvPT != 0 && cfg.TelephoneEventRecvPT == c.PayloadType):
		return fmt.Errorf("new rtp session: invalid telephone-event payload type %d", cfg.TelephoneEventRecvPT)
	case cfg.ComfortNoisePT > 127 || (cfg.ComfortNoisePT != 0 &&
		(cfg.ComfortNoisePT == c.PayloadType || cfg.ComfortNoisePT == cfg.TelephoneEventPT || cfg.ComfortNoisePT == cfg.TelephoneEventRecvPT)):
		return fmt.Errorf("new rtp session: invalid comfort-noise payload type %d", cfg.ComfortNoisePT)
	case cfg.Direction < SendRecv || cfg.Direction > Inactive:
		return fmt.Errorf("new rtp session: invalid direction %d", cfg.Direction)
	}
	return nil
}

// Start starts the send and receive goroutines. Calling it again, or after Close, does nothing.
func (s *Session) Start() {
	s.startOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		s.wg.Add(2)
		go s.sendLoop()
		go s.recvLoop()
		if s.rtcp.conn != nil {
			s.wg.Add(2)
			go s.rtcpSendLoop()
			go s.rtcpRecvLoop()
		}
	})
}

// Close stops both goroutines and waits for them, then closes the socket and the Stream. It is
// safe to call more than once; later calls return the first result.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() {}) // a later Start must not start anything
		close(s.done)
		s.dtls.Close() // close_notify while the socket is open
		// Closing the socket is what ends the receive goroutine's blocking read.
		errConn := s.conn.Close()
		if s.rtcp.conn != nil {
			_ = s.rtcp.conn.Close() // ends the RTCP receive goroutine
		}
		s.wg.Wait()
		if s.rtHeld {
			rt.Release()
		}
		errStream := s.stream.Close()
		if errors.Is(errConn, net.ErrClosed) {
			errConn = nil
		}
		if err := errors.Join(errConn, errStream); err != nil {
			s.closeErr = fmt.Errorf("close rtp session: %w", err)
		}
	})
	return s.closeErr
}

// SetDirection changes the media direction (hold, resume). Sending resumes with the marker bit
// set; the RTP timestamp keeps following the clock across the pause.
func (s *Session) SetDirection(d Direction) {
	if d < SendRecv || d > Inactive {
		return
	}
	s.direction.Store(int32(d))
}

// Direction returns the current media direction.
func (s *Session) Direction() Direction { return Direction(s.direction.Load()) }

// SetMuted mutes or unmutes the microphone: while muted the session keeps sending, frames of
// encoded silence, so the far end's jitter buffer and NAT bindings stay warm.
func (s *Session) SetMuted(m bool) { s.muted.Store(m) }

// SetRecorder makes the session hand each tick's frames to r from the next tick on: what it
// sends after mute (silence while it sends nothing) and what it plays. Nil stops that; a frame
// being handed over may still reach the old recorder. The caller owns r and closes it.
func (s *Session) SetRecorder(r *Recorder) { s.rec.Store(r) }

// Recorder returns the recorder set with SetRecorder, nil if none.
func (s *Session) Recorder() *Recorder { return s.rec.Load() }

// SetRemote changes where RTP goes (a re-INVITE or a checked network change moved the far end).
// Latching opens again for the first packets that follow (session_recv.go latch).
func (s *Session) SetRemote(addr netip.AddrPort) {
	if !addr.IsValid() {
		return
	}
	addr = unmapAddrPort(addr)
	s.remote.Store(&addr)
	s.remoteGen.Add(1)
	s.learning.Store(true)
	s.rtcp.mu.Lock()
	s.rtcp.remote = rtcpAddr(addr)
	s.rtcp.mu.Unlock()
}

// rtcpAddr is where RTCP goes for RTP at rtp: the next port (RFC 3550 §11).
func rtcpAddr(rtp netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)
}

// Remote returns where RTP goes now.
func (s *Session) Remote() netip.AddrPort { return *s.remote.Load() }

// LocalAddr returns the address of the RTP socket.
func (s *Session) LocalAddr() netip.AddrPort {
	if a, ok := s.conn.LocalAddr().(*net.UDPAddr); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// Stats returns the stream's counters so far.
func (s *Session) Stats() phone.MediaStats {
	s.mu.Lock()
	st := phone.MediaStats{
		PacketsSent:     s.sent.Load(),
		PacketsReceived: s.received,
		PacketsLost:     s.jb.lost(),
		Duplicates:      s.jb.dups,
		Late:            s.jb.late,
		JitterMS:        s.jb.jitterMS(),
		Concealed:       s.concealed.Load(),
		DelayChanges:    s.delayChanges.Load(),
		Stalls:          s.stalls.Load(),
	}
	playoutMS := float64(s.jb.delay) * 1000 / float64(s.codec.ClockRate)
	s.mu.Unlock()
	r := &s.rtcp
	r.mu.Lock()
	st.RTTMS, st.RemoteLoss, st.RemoteJitterMS = r.rttMS, r.remoteLoss, r.remoteJit
	st.RTCPSent, st.RTCPReceived = r.sent, r.recv
	r.mu.Unlock()
	// Mouth-to-ear: half the round trip, the playout delay, and one frame of packetisation.
	var lossPct float64
	if n := st.PacketsReceived + st.PacketsLost; n > 0 {
		lossPct = 100 * float64(st.PacketsLost) / float64(n)
	}
	st.MOS = EstimateMOS(s.codec.Name, st.RTTMS/2+playoutMS+FrameDuration, lossPct)
	return st
}

// SendDTMF queues digits (0-9, *, #, A-D) to be sent as RFC 4733 telephone-events, 100 ms each
// with 100 ms between them. It returns ErrNoTelephoneEvent when none was negotiated, and an
// error naming the key for anything that is not a DTMF key; then nothing is queued.
func (s *Session) SendDTMF(digits string) error {
	if s.evPT == 0 {
		return ErrNoTelephoneEvent
	}
	if err := CheckDTMF(digits); err != nil {
		return err
	}
	return s.snd.dtmf.enqueue(digits)
}

// LastReceived returns when the last valid RTP packet arrived (zero if none has), for RTP timeout
// detection.
func (s *Session) LastReceived() time.Time {
	n := s.lastRecv.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Encrypted reports whether the session sends and receives SRTP.
func (s *Session) Encrypted() bool { return s.srtp != nil }

// Unauthentic returns how many received packets were dropped because they did not authenticate
// as the far end's SRTP (or were replays).
func (s *Session) Unauthentic() uint64 { return s.garbage.unauthentic.Load() }

// Ignored returns how many received datagrams were not RTP of a negotiated payload type.
func (s *Session) Ignored() uint64 { return s.garbage.total() }

func unmapAddrPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// randomRTPStart returns a random SSRC, initial sequence number and timestamp (RFC 3550 §5.1),
// from crypto/rand: the SSRC and sequence numbers are what latching trusts mid-call
// (session_recv.go latch), so a stranger must not be able to predict them.
func randomRTPStart() (ssrc uint32, seq uint16, ts uint32) {
	var b [10]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint32(b[6:])
}

// rateLimiter lets one message through per interval.
type rateLimiter struct {
	every time.Duration
	last  time.Time
}

func (r *rateLimiter) allow(now time.Time) bool {
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		return false
	}
	r.last = now
	return true
}
