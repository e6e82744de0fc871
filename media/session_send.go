package media

import (
	"time"

	"github.com/pion/rtp"

	"trayphone/media/internal/rt"
)

// sender is the state of the send goroutine: the pacing, the outgoing RTP stream, and the playout
// side of the jitter buffer (decode and conceal). Only sendLoop touches it after Start.
type sender struct {
	s      *Session
	udp    rt.UDPWriter // sends on s.conn with a raw sendto: no runtime netpoller wake-up per packet
	enc    Encoder
	dec    Decoder
	hdr    rtp.Header
	ts0    uint32 // RTP timestamp of tick 0
	step   uint32
	marker bool // set the marker bit on the next packet sent

	pcm     []int16 // the captured frame
	out     []int16 // the played frame; cap leaves room for any decodable payload
	payload []byte  // the payload popped from the jitter buffer
	// po is the playout stage: decoded audio on its way to the speaker, where the delay changes
	// and losses are concealed.
	po playout
	// decoded is set once dec has decoded a frame of the current stream; streams is the jitter
	// buffer's stream count it belongs to.
	decoded bool
	streams uint32
	// muteGain is the microphone's gain, 1 open, 0 muted, on its way between them (applyMute).
	muteGain float64
	buf      []byte // the packet being built
	// sbuf holds the SRTP packet made of buf, and shdr is the header the encryption reads,
	// when the session is encrypted.
	sbuf []byte
	shdr rtp.Header

	// dtmf sends queued digits as RFC 4733 events in place of audio.
	dtmf dtmfSender

	// silencer is the encoder's DTX test (Opus), or nil.
	silencer silencer
	// concealer is the decoder's own loss concealment (Opus PLC and FEC), or nil.
	concealer concealer
	next      []byte // the packet after a lost one, for FEC

	// Silence suppression with comfort noise (RFC 3389, cng.go): vadOn when a comfort-noise
	// payload type was negotiated and VAD is not off; inSilence while the user is silent;
	// sidDue counts down the frames to the next silence descriptor.
	vadOn     bool
	vad       vad
	inSilence bool
	sidDue    int
	// cnEnc follows the spectrum of the user's silent frames for the descriptors.
	cnEnc cnAnalyzer
	// noise plays the far end's comfort noise. quiet is the mean square of the far end's
	// recent quiet decoded frames (its background), haveQuiet says it is set: a gap the decoder's
	// own concealment fades to silence (Opus DTX) is filled with noise at that level.
	noise     noiseGen
	quiet     float64
	haveQuiet bool

	limit rateLimiter

	// Steady send (steady.go): steady is the timer threads once started, stTrig decides when,
	// stOff is set when they could not start; cur is the tick being run and stDue0 when tick
	// 0's packet leaves with them.
	steady *steadySender
	stTrig steadyTrigger
	stOff  bool
	cur    int64
	stDue0 time.Time
}

// cnState is the far end's latest comfort-noise descriptor: from the frame at RTP timestamp ts
// on, until audio plays again, the player plays the noise sid describes.
type cnState struct {
	have bool
	ts   uint32
	sid  cnSID
}

// silencer is an Encoder that can tell that a payload it made carries only silence and need not
// be sent (Opus DTX, RFC 7587 §3.1.3).
type silencer interface {
	Silent(payload []byte) bool
}

// concealer is a Decoder that makes its own frame for a lost packet, from next (the packet after
// the lost one, whose in-band FEC may carry it) or, when next is nil, from its own state.
type concealer interface {
	Conceal(dst []int16, next []byte) ([]int16, error)
}

func (sn *sender) init(s *Session, vadOn bool) {
	n := s.codec.FrameSamples()
	ssrc, seq, ts := randomRTPStart()
	*sn = sender{
		s:        s,
		enc:      s.codec.NewEncoder(),
		dec:      s.codec.NewDecoder(),
		hdr:      rtp.Header{Version: 2, PayloadType: s.codec.PayloadType, SSRC: ssrc, SequenceNumber: seq},
		ts0:      ts,
		step:     s.codec.TimestampStep(),
		marker:   true, // RFC 3551 §4.1: the first packet starts a talkspurt
		pcm:      make([]int16, n),
		out:      make([]int16, n, n+2*maxRTPPayload),
		payload:  make([]byte, 0, maxRTPPayload),
		buf:      make([]byte, 0, 12+max(maxRTPPayload, 4*n)),
		sbuf:     make([]byte, 0, 12+max(maxRTPPayload, 4*n)+srtpMaxOverhead),
		next:     make([]byte, 0, maxRTPPayload),
		dtmf:     newDTMFSender(s.codec.TimestampStep()),
		limit:    rateLimiter{every: 10 * time.Second},
		muteGain: 1,
	}
	sn.po.init(s.codec.SampleRate, s.codec.ClockRate)
	sn.silencer, _ = sn.enc.(silencer)
	sn.concealer, _ = sn.dec.(concealer)
	if !vadOn {
		sn.silencer = nil // Opus DTX packets are sent like any other
	}
	sn.vadOn = vadOn && s.cnPT != 0 && sn.silencer == nil
	sn.vad = newVAD()
	sn.udp.Init(s.conn)
}

// sendLoop runs the 20 ms ticks. It returns when Close closes s.done.
func (s *Session) sendLoop() {
	defer s.wg.Done()
	if s.steady {
		steadyPrior() // reads /proc/cpuinfo once per process: here, not inside a tick
	}
	if s.realtime {
		// A computer busy already gets the real-time class before the first tick (internal/rt/busy.go).
		if why := rt.BusyNow(); why != "" {
			s.escalate(why)
		}
	}
	p := rt.NewPacer(s.clk, FrameDuration*time.Millisecond)
	defer p.Stop()
	defer s.snd.stopSteady()
	for {
		tick, skipped, ok := p.Wait(s.done)
		if !ok {
			return
		}
		if err := p.TakeErr(); err != nil {
			s.log.Warn("the kernel tick timer failed; pacing the audio with Go timers", "err", err)
		}
		// Steady send is considered only over the kernel timer: a Go timer's own lateness is
		// not the computer's.
		steadyOpen := s.steady && s.snd.steady == nil && !s.snd.stOff && p.Kernel()
		if s.realtime && !s.rtHeld || steadyOpen {
			now := s.clk.Now()
			late := now.Sub(p.Due(tick))
			if s.realtime && !s.rtHeld && s.rtTrig.observe(tick, now, late, skipped) {
				s.escalate("the call's audio ran late")
			}
			if steadyOpen {
				if why := s.snd.steadyDue(tick, late); why != "" {
					s.snd.startSteady(p, tick, why)
				}
			}
		}
		s.snd.tick(tick, skipped)
	}
}

// steadyDue notes that tick ran late by late and says why the session changes over to steady
// send now, or "" if it does not: its ticks show late wake-ups, or, from the first tick, an
// earlier call of the process changed over or this is a virtual machine (steadyPrior).
func (sn *sender) steadyDue(tick int64, late time.Duration) string {
	switch {
	case sn.stTrig.observe(tick, late):
		return steadyWhyLate
	case sn.s.stFrom > 0 && tick >= sn.s.stFrom:
		return steadyWhyTest
	case sn.s.stFrom > 0:
		return "" // a test chose the tick
	case steadyLearned.Load():
		return steadyWhyLearned
	case steadyPrior():
		return steadyWhyVM
	}
	return ""
}

// startSteady changes the session over to steady send (steady.go) from tick on, the tick about
// to run, for the reason why: its packet leaves SteadyLead after the tick was due.
func (sn *sender) startSteady(p *rt.Pacer, tick int64, why string) {
	s := sn.s
	due0 := p.Due(0).Add(SteadyLead)
	base, err := rt.MonoOf(due0)
	var st *steadySender
	if err == nil {
		st, err = startSteady(s.conn, base, p.Period(), tick, false)
	}
	if err != nil {
		sn.stOff = true
		if s.closing() {
			return
		}
		s.log.Info("steady send could not start; packets keep being sent from the call's audio thread", "why_wanted", why, "reason", err)
		return
	}
	sn.steady, sn.stDue0 = st, due0
	steadyLearned.Store(true)
	if s.rtHeld {
		// The threads were started from a real-time thread, which does not pass its class on
		// (SCHED_RESET_ON_FORK): they would send in the ordinary class until the next re-scan.
		rt.Refresh()
	}
	s.log.Info("packets now leave from two timer threads, "+SteadyLead.String()+" after they are ready, on a steady grid", "why", why, "tick", tick)
}

// stopSteady ends steady send, if it was started, and says how it went.
func (sn *sender) stopSteady() {
	if sn.steady == nil {
		return
	}
	threads, loop := sn.steady.counts()
	tardy := sn.steady.tardy()
	sn.steady.stop()
	sn.steady = nil
	sn.s.log.Info("steady send ended", "from_timer_threads", threads, "late_from_loop", loop, "threads_late", tardy)
}

// escalate moves the process to the real-time scheduling class for the rest of the call: the
// computer is busy (realtime.go), as why says.
func (s *Session) escalate(why string) {
	s.rtHeld = true
	err := rt.Acquire()
	switch {
	case err == nil:
		s.log.Info("the computer is busy: the call's audio now runs with real-time scheduling until the call ends", "why", why)
	case rtWarned.CompareAndSwap(false, true):
		s.log.Warn("the computer is busy and the call's audio may run late; real-time scheduling would help but is not available", "why", why, "reason", err)
	}
}

// tick does the work of one 20 ms frame: capture and send, then play.
func (sn *sender) tick(tick, skipped int64) {
	s := sn.s
	dir := s.Direction()
	sn.cur = tick
	if sn.steady != nil {
		if n, err := sn.steady.sendErr(); n > 0 {
			s.sent.Add(-n) // counted when posted
			if !s.closing() && sn.limit.allow(s.clk.Now()) {
				s.log.Warn("rtp send failed", "remote", s.Remote(), "err", err)
			}
		}
	}
	if skipped > 0 {
		s.stalls.Add(1)
		// The goroutine was held up: the skipped frames are not sent (no burst), their captured
		// audio is dropped so the microphone's latency does not grow, and the playout point moves
		// on by as much. The timestamp jumps with the clock; the marker tells the far end.
		for range min(skipped, jitterSlots) {
			_ = s.stream.Read(sn.pcm)
		}
		sn.marker = true
		sn.skipPlayout(skipped)
		if rec := s.rec.Load(); rec != nil {
			rec.Silence(int(skipped)) // the recording keeps the call's time
		}
		if now := s.clk.Now(); sn.limit.allow(now) {
			s.log.Warn("rtp sender fell behind, skipped frames", "frames", skipped)
		}
	}

	if err := s.stream.Read(sn.pcm); err != nil {
		clear(sn.pcm)
		if sn.limit.allow(s.clk.Now()) {
			s.log.Warn("audio capture failed", "err", err)
		}
	}
	if dir.Sends() {
		sn.applyMute(s.muted.Load())
		ts := sn.ts0 + uint32(tick)*sn.step
		var err error
		if ev, evTS, marker, ok := sn.dtmf.next(ts); ok {
			err = sn.sendEvent(ev, evTS, marker)
			sn.marker = true // audio after the event starts a new talkspurt
		} else if sn.vadOn && !sn.vad.update(sn.pcm) {
			err = sn.sendSilence(ts)
		} else {
			sn.inSilence = false
			err = sn.send(ts)
		}
		// A send failing because Close closed the socket is not worth a warning.
		if err != nil && !s.closing() && sn.limit.allow(s.clk.Now()) {
			s.log.Warn("rtp send failed", "remote", s.Remote(), "err", err)
		}
	} else {
		sn.marker = true
	}

	if dir.Plays() {
		sn.play()
	} else {
		sn.skipPlayout(1)
	}
	if rec := s.rec.Load(); rec != nil {
		// What the far end got of the user (nothing while not sending) and what the user heard.
		var near, far []int16
		if dir.Sends() {
			near = sn.pcm
		}
		if dir.Plays() {
			far = sn.out[:len(sn.pcm)]
		}
		rec.Frame(near, far)
	}
}

// muteRamp is how long muting and unmuting take: a microphone cut off mid-sound is a step, which
// the far end hears as a click (and Opus codes with a ringing overshoot).
const muteRamp = 5 * time.Millisecond

// applyMute fades the captured frame out when muted and back in when not, over muteRamp.
func (sn *sender) applyMute(muted bool) {
	target := 1.0
	if muted {
		target = 0
	}
	if sn.muteGain == target {
		if target == 0 {
			clear(sn.pcm)
		}
		return
	}
	step := 1 / (float64(sn.s.codec.SampleRate) * muteRamp.Seconds())
	for i, v := range sn.pcm {
		if sn.muteGain < target {
			sn.muteGain = min(target, sn.muteGain+step)
		} else {
			sn.muteGain = max(target, sn.muteGain-step)
		}
		sn.pcm[i] = int16(float64(v) * sn.muteGain)
	}
}

// skipPlayout moves the playout on by n frames that are not played (hold, or ticks the machine
// skipped): what the playout stage holds goes first, then the frames due in the jitter buffer.
// Those are still decoded (or concealed), and the result thrown away, so the decoder's state
// follows the stream: an Opus or G.722 decoder that missed frames it was never told about resumes
// with a burst. After a skip too long for the buffer to hold, the decoder starts afresh.
func (sn *sender) skipPlayout(n int64) {
	s := sn.s
	frames := int64(sn.po.skip(int(min(n, jitterSlots+1)) * len(sn.pcm)))
	if n > jitterSlots {
		s.mu.Lock()
		s.jb.skip(n)
		s.mu.Unlock()
		sn.freshDecoder()
		return
	}
	// The far end's frames may be shorter or longer than a tick's: pop until the time is covered.
	for left := frames * int64(s.codec.TimestampStep()); left > 0; {
		s.mu.Lock()
		payload, res := s.jb.pop()
		dur := s.jb.frameUnits()
		if res == popFrame {
			sn.payload = append(sn.payload[:0], payload...)
		}
		s.mu.Unlock()
		left -= int64(dur)
		switch {
		case res == popFrame:
			pcm, err := sn.dec.Decode(sn.out[:0], sn.payload)
			if units := uint32(int64(len(pcm)) * int64(s.codec.ClockRate) / int64(s.codec.SampleRate)); err == nil && units != dur {
				s.mu.Lock()
				s.jb.lasted(units)
				s.mu.Unlock()
				left += int64(dur) - int64(units)
			}
			sn.decoded = sn.decoded || err == nil
		case res == popMissing && sn.concealer != nil:
			// Nothing came (the far end holds, or lost it): the decoder conceals, and what it
			// decodes when the stream is back is held to the level before, as after a loss.
			sn.po.lost()
			_, _ = sn.concealer.Conceal(sn.out[:0], nil)
		}
	}
}

// freshDecoder replaces the decoder with a new one: the stream it followed is gone.
func (sn *sender) freshDecoder() {
	sn.dec = sn.s.codec.NewDecoder()
	sn.concealer, _ = sn.dec.(concealer)
	sn.decoded = false
}

// send encodes sn.pcm and sends it as one RTP packet with timestamp ts. It allocates nothing.
func (sn *sender) send(ts uint32) error {
	s := sn.s
	sn.hdr.Marker = sn.marker
	sn.hdr.Timestamp = ts
	seq := sn.hdr.SequenceNumber
	sn.hdr.SequenceNumber++
	sn.marker = false
	n, err := sn.hdr.MarshalTo(sn.buf[:cap(sn.buf)])
	if err != nil {
		return err
	}
	pkt, err := sn.enc.Encode(sn.buf[:n], sn.pcm)
	if err != nil {
		return err
	}
	if sn.silencer != nil && sn.silencer.Silent(pkt[n:]) {
		// DTX: nothing worth sending. The sequence number stays (RFC 3550 §5.1 counts packets
		// sent) and the next packet sent starts a talkspurt.
		sn.hdr.SequenceNumber = seq
		sn.marker = true
		return nil
	}
	if err := sn.transmit(pkt, n, sn.hdr.SequenceNumber, ts); err != nil {
		return err
	}
	s.lastTS.Store(ts)
	s.lastTSAt.Store(s.clk.Now().UnixNano())
	return nil
}

// transmit sends one built packet, whose RTP header is hdrLen bytes, to the far end: the send
// observer sees it, and the packet and payload octet counters (RTCP SR) count it. It allocates
// nothing.
func (sn *sender) transmit(pkt []byte, hdrLen int, seq uint16, ts uint32) error {
	s := sn.s
	if s.srtp != nil {
		// RFC 3711 §3.1: the payload is encrypted, header and payload authenticated.
		enc, err := s.srtp.sendRTP.EncryptRTP(sn.sbuf[:0], pkt, &sn.shdr)
		if err != nil {
			return err
		}
		pkt = enc
	}
	if s.observe != nil {
		s.observe(s.clk.Now(), seq, ts)
	}
	// Counted before the write, so a reader that has seen the packet arrive sees it counted.
	s.sent.Add(1)
	if sn.steady != nil {
		if posted, err := sn.postSteady(pkt); posted {
			s.octets.Add(uint64(len(pkt) - hdrLen))
			return err
		}
	}
	if _, err := sn.udp.WriteTo(pkt, *s.remote.Load()); err != nil {
		s.sent.Add(^uint64(0))
		return err
	}
	s.octets.Add(uint64(len(pkt) - hdrLen))
	return nil
}

// postSteady hands the packet of the tick being run to the steady sender. It reports false when
// the caller must send it: it could not be posted (its time has passed, or the destination is
// not one the threads can send to).
func (sn *sender) postSteady(pkt []byte) (bool, error) {
	s := sn.s
	sa, err := sn.udp.Sockaddr(*s.remote.Load())
	if err != nil {
		return false, nil // writeTo says what is wrong with the address
	}
	due := !s.clk.Now().Before(sn.stDue0.Add(time.Duration(sn.cur) * FrameDuration * time.Millisecond))
	return sn.steady.post(sn.cur, pkt, sa, due)
}

// sendSilence is the frame at ts of the user's silence: no audio, but a comfort-noise
// descriptor with the background's level and spectrum when the silence starts and every
// cnSIDFrames after (RFC 3389 §4). The first audio packet after it starts a talkspurt (marker,
// RFC 3551 §4.1). It allocates nothing.
func (sn *sender) sendSilence(ts uint32) error {
	sn.marker = true
	sn.cnEnc.add(sn.pcm)
	if sn.inSilence {
		sn.sidDue--
		if sn.sidDue > 0 {
			return nil
		}
	}
	sn.inSilence, sn.sidDue = true, cnSIDFrames
	s := sn.s
	sn.hdr.SequenceNumber++
	h := sn.hdr
	h.PayloadType = s.cnPT
	h.Marker = false
	h.Timestamp = ts
	n, err := h.MarshalTo(sn.buf[:cap(sn.buf)])
	if err != nil {
		return err
	}
	sid := sn.cnEnc.describe(sn.vad.level())
	return sn.transmit(appendCN(sn.buf[:n], &sid), n, h.SequenceNumber, ts)
}

// sendEvent sends one RFC 4733 telephone-event packet in the audio stream's SSRC and sequence
// space. It allocates nothing.
func (sn *sender) sendEvent(ev telephoneEvent, ts uint32, marker bool) error {
	s := sn.s
	sn.hdr.SequenceNumber++
	h := sn.hdr
	h.PayloadType = s.evPT
	h.Marker = marker
	h.Timestamp = ts
	n, err := h.MarshalTo(sn.buf[:cap(sn.buf)])
	if err != nil {
		return err
	}
	return sn.transmit(appendTelephoneEvent(sn.buf[:n], ev), n, h.SequenceNumber, ts)
}

// play writes the frame due now to the stream. The playout stage (playout.go) is topped up with
// decoded frames, concealment or comfort noise from the jitter buffer until it holds a frame, and
// changes the delay when the jitter buffer asks, on the decoded signal.
func (sn *sender) play() {
	p := &sn.po
	frame := len(sn.pcm)
	s := sn.s
	s.mu.Lock()
	dir, due := s.jb.adjustment()
	s.mu.Unlock()
	if dir != 0 && !due && !sn.quietOrSteady() {
		// Not yet: a quiet or steady moment may come within the patience.
		s.mu.Lock()
		s.jb.waitAdjust()
		s.mu.Unlock()
		dir = 0
	}
	// Accelerating needs the fifo to hold a frame plus the period it takes out: pull the next
	// frame early, but only when it is already here (pulling a missing one would conceal it).
	for len(p.fifo) < frame || (dir < 0 && len(p.fifo) < frame+p.tsmMaxT && sn.nextQueued()) {
		sn.pullFrame()
	}
	switch {
	case dir > 0:
		if n := p.expand(due); n > 0 {
			s.delayChanges.Add(1)
			s.mu.Lock()
			s.jb.adjusted(p.units(n))
			s.mu.Unlock()
		}
	case dir < 0:
		if n := p.accelerate(frame, false); n > 0 {
			s.delayChanges.Add(1)
			s.mu.Lock()
			s.jb.adjusted(-p.units(n))
			s.mu.Unlock()
		}
	}
	out := sn.out[:frame]
	p.pull(out)
	if err := s.stream.Write(out); err != nil && sn.limit.allow(s.clk.Now()) {
		s.log.Warn("audio playback failed", "err", err)
	}
}

// quietOrSteady reports whether the audio being played is quiet or repeats itself (a sustained
// vowel, a tone): where a change of delay is not heard. It looks at the last samples played.
func (sn *sender) quietOrSteady() bool {
	p := &sn.po
	if p.fresh < len(p.hist) {
		return false // just after a skip: wait until there is something to judge
	}
	x, _ := p.signal()
	x = x[:len(p.hist)]
	w := p.maxT
	_, c, e := p.bestPeriod(x, len(x)-w, w, p.tsmMinT, min(p.tsmMaxT, len(x)-w), false)
	return e < quietLevel || c >= tsmMinCorr
}

// nextQueued reports whether the frame the next pop plays has arrived.
func (sn *sender) nextQueued() bool {
	s := sn.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jb.dueHead() != nil
}

// pullFrame takes one frame from the jitter buffer and puts what it plays into the playout stage:
// the decoded packet, a concealment of the missing one, comfort noise, or silence.
func (sn *sender) pullFrame() {
	s := sn.s
	p := &sn.po
	// The jitter buffer measures its delay by when its frames are taken: a packet must be here
	// by then, however much the playout stage holds before the frame.
	now := s.clk.Now()
	s.mu.Lock()
	s.jb.takenAt(now)
	payload, res := s.jb.pop()
	streams, dur := s.jb.streams, s.jb.frameUnits()
	if res == popFrame {
		sn.payload = append(sn.payload[:0], payload...)
		// Audio from the last descriptor's time on ends the far end's silence.
		if s.cn.have && int32(s.jb.playTS-s.jb.step-s.cn.ts) >= 0 {
			s.cn.have = false
		}
	}
	cn := s.cn
	sn.next = sn.next[:0]
	if res == popMissing && sn.concealer != nil {
		sn.next = append(sn.next, s.jb.peekDue()...)
	}
	s.mu.Unlock()

	// A frame is as long as the far end's packets (10, 20, 30 ms...).
	frame := int(int64(dur) * int64(s.codec.SampleRate) / int64(s.codec.ClockRate))
	out := sn.out[:frame]
	if streams != sn.streams {
		// Another sender (a new SSRC): the decoder's state belongs to the old one.
		sn.streams = streams
		if sn.decoded {
			sn.freshDecoder()
		}
	}
	switch res {
	case popFrame:
		pcm, err := sn.dec.Decode(sn.out[:0], sn.payload)
		if err != nil {
			sn.conceal(out)
			return
		}
		sn.decoded = true
		if units := uint32(int64(len(pcm)) * int64(s.codec.ClockRate) / int64(s.codec.SampleRate)); units != dur {
			s.mu.Lock()
			s.jb.lasted(units)
			s.mu.Unlock()
		}
		if sn.concealer != nil {
			sn.trackQuiet(pcm)
		}
		p.push(pcm)
	case popMissing:
		if cn.have {
			// The far end is silent and said what its background sounds like (RFC 3389).
			sn.noise.play(out, &cn.sid)
			p.pushMadeUp(out)
			return
		}
		sn.conceal(out)
	default:
		if sn.decoded && sn.concealer != nil {
			// The far end's stream paused (its next talkspurt is not due yet): tell the decoder,
			// whose next frame is predicted from this one (Opus codes energy as a change), and
			// hold what it says on coming back to the level before, as after a loss.
			p.lost()
			_, _ = sn.concealer.Conceal(sn.out[:0], nil)
		}
		if cn.have {
			// A new talkspurt's first packet is not due yet: the far end's silence goes on.
			sn.noise.play(out, &cn.sid)
			p.pushMadeUp(out)
			return
		}
		p.pushSilence(frame)
	}
}

// conceal makes up a missing frame: the codec's own concealment (Opus PLC, or FEC from the next
// packet) where it has one, else the playout stage's pitch-period concealment.
func (sn *sender) conceal(out []int16) {
	p := &sn.po
	p.lost()
	sn.s.concealed.Add(1)
	if sn.concealer != nil {
		var next []byte
		if len(sn.next) > 0 {
			next = sn.next
		}
		pcm, err := sn.concealer.Conceal(sn.out[:0], next)
		if err == nil && len(pcm) >= len(out) {
			sn.fillGap(out)
			p.pushMadeUp(out)
			return
		}
	}
	p.conceal(len(out))
}

// quietDB is the level under which a decoded frame counts as the far end's background, in dBov.
const quietDB = -45

// trackQuiet follows the level of the far end's quiet frames (its background noise between
// words, and the comfort-noise updates of Opus DTX).
func (sn *sender) trackQuiet(frame []int16) {
	ms := meanSquare(frame)
	if dBov(ms) > quietDB {
		return
	}
	if !sn.haveQuiet {
		sn.quiet, sn.haveQuiet = ms, true
		return
	}
	sn.quiet += (ms - sn.quiet) / 4
}

// fillGap replaces a concealed frame that has faded well under the far end's background level
// with comfort noise at that level: Opus DTX sends one packet per 400 ms during silence, and the
// decoder's concealment between them fades towards digital silence, which sounds like a dropped
// call.
func (sn *sender) fillGap(out []int16) {
	if !sn.haveQuiet || meanSquare(out) >= sn.quiet/4 {
		return
	}
	sn.noise.fill(out, cnLevel(sn.quiet))
}
