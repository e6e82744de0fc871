// Package callmgr owns every call: the call state machine, the SIP dialogs, SDP offer/answer, timers,
// and the media session of each call. One goroutine (Run) is the only writer of call state; sipgo
// handlers and public methods post work to it.
package callmgr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/media"
)

// ErrStopped is returned by calls into a manager that has shut down.
var ErrStopped = errors.New("the phone is shutting down")

// Defaults.
const (
	defaultRingTimeout = 60 * time.Second
	defaultRTPTimeout  = 60 * time.Second
	historySize        = 50
	maxCalls           = 4
	// maxRingingPerSource is how many direct calls from one IP address may ring at once.
	maxRingingPerSource = 2
	// maxEchoCalls is how many echo tests may run at once, each for at most maxEchoDuration.
	maxEchoCalls    = 2
	maxEchoDuration = 10 * time.Minute
	shutdownGrace   = 2 * time.Second
	echoDelay       = 200 * time.Millisecond
)

// Config is what a Manager needs. UA and Device are required.
type Config struct {
	UA *sipua.UA
	// Device is the user's microphone and speaker, opened per call.
	Device media.Device
	// DefaultDevice is the system's default microphone and speaker, which a call or a
	// conference moves to when its own device disappears mid-call; nil: it goes on without
	// sound. Like Device it is opened off the manager goroutine.
	DefaultDevice media.Device
	// Codecs in order of preference; empty means PCMU, PCMA.
	Codecs []media.Codec
	// NoVAD sends every audio frame during the user's silence (audio.vad = false): no comfort
	// noise descriptors in place of G.711/G.722 silence, no Opus DTX.
	NoVAD bool
	// Realtime lets calls move to real-time scheduling when the computer is busy
	// (media.SessionConfig.Realtime; audio.realtime).
	Realtime bool
	// SteadySend lets calls send from timer threads when this computer wakes threads late
	// (media.SessionConfig.SteadySend; audio.steady_send).
	SteadySend bool
	// Favorites maps names to SIP URIs (or "echo").
	Favorites map[string]string
	// DND rejects incoming calls with 486 when set.
	DND bool
	// CallWaiting lets a second call ring while one is active; otherwise the caller gets 486.
	// While it rings, the call-waiting tone is laid over the active call's audio (waiting.go).
	CallWaiting bool
	// AppServer makes the phone an application server (trayphone --app-server): its calls are
	// independent — answering or placing one holds no other, and no call-waiting tone plays —
	// up to MaxCalls at once, as many of them ringing from one address as that.
	AppServer bool
	// MaxCalls is how many calls may be under way at once (default 4); more get 486 Busy Here.
	MaxCalls int
	// ToneRegion picks the call-waiting tone (media.ToneRegions); "" follows the locale.
	ToneRegion string
	// RTPTimeout hangs up an answered call whose far end has sent no audio for this long (default
	// 60 s; negative: never).
	RTPTimeout time.Duration
	// RingTimeout cancels an outgoing call nobody answers (default 60 s).
	RingTimeout time.Duration
	// IncomingRingTimeout ends an incoming call nobody answers with 480 (default 60 s; [sip]
	// ring_timeout).
	IncomingRingTimeout time.Duration
	// MediaEncryption is "off", "optional" (also for "") or "required": [sip]
	// media_encryption (srtp.go).
	MediaEncryption string
	// AccountEncryption overrides MediaEncryption for the calls of an account, by account ID.
	AccountEncryption map[string]string
	// SDESOverUDP lets SDES keys go over signalling that is not TLS ([sip] sdes_over_udp).
	SDESOverUDP bool
	// SRTPSuites limits the SRTP suites offered and accepted, in order of preference (tests;
	// nil: media.SRTPSuites).
	SRTPSuites []string
	// DTLSCertificate is the phone's DTLS-SRTP certificate (media.NewDTLSCertificate; main keeps
	// one per phone); nil makes one for this run.
	DTLSCertificate *tls.Certificate
	// NoDTLS leaves DTLS-SRTP out of offers and answers: SDES keys only (tests of SDES between
	// trayphones; the phone itself always uses DTLS-SRTP where encryption is on).
	NoDTLS bool
	// DTLSTimeout bounds a call's DTLS-SRTP handshake (0: media.DefaultDTLSTimeout).
	DTLSTimeout time.Duration
	// RTPPortMin and RTPPortMax bound media ports (0, 0: any).
	RTPPortMin, RTPPortMax int
	// Accounts are the SIP accounts calls go through (nil: direct calls only).
	Accounts Accounts
	// RejectDirectCalls refuses (403) INVITEs that did not come through an account's registrar:
	// ghost-call protection against SIP scanners.
	RejectDirectCalls bool
	// NAT gives the public address and TURN relay for media behind a NAT (nil: none; nat.go).
	NAT   NAT
	Clock clock.Clock
	Log   *slog.Logger
	// History keeps every ended call across restarts (internal/history.Store); nil: the calls
	// since start only (Recent).
	History HistoryStore
	// RecordDir is where call recordings go (the state directory's recordings/, made 0700 when
	// the first is); "" leaves recording unavailable (record.go).
	RecordDir string
	// RecordCalls records every answered call ([audio] record_calls).
	RecordCalls bool
	// Forward is the call forwarding at start ([forward]; forward.go); SetForward changes it.
	Forward phone.Forward
	// AutoAnswer says which calls are answered without the user ([autoanswer]; autoanswer.go).
	AutoAnswer AutoAnswer
	// Screen applies the screening rules to incoming calls (nil: every call rings).
	Screen Screener
	// Voicemail is the answering machine (nil: none).
	Voicemail AnsweringMachine
	// VoicemailAfter lets the answering machine take a call that has rung this long
	// ([voicemail] enabled, answer_after); 0: only calls sent to it.
	VoicemailAfter time.Duration
	// TransferScreen, if set, decides which targets a far end may transfer us to (transfer.go);
	// the user's call screening plugs in here. Nil allows every SIP target.
	TransferScreen TransferScreen
	// Presence handles NOTIFYs of the phone's subscriptions: voicemail (MWI) and favorites'
	// lines (BLF); nil: every NOTIFY gets 481.
	Presence Presence
	// Watched are the favorites whose line state is watched (BLF), in menu order; their State
	// starts as "unknown".
	Watched []phone.FavoriteState
	// SessionOptions are test hooks passed to every call's media session.
	SessionOptions []media.Option
}

// Manager is the call manager. Create it with New and run it with Run.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	clk   clock.Clock
	ua    *sipua.UA
	dlgUA *sipgo.DialogUA
	work  *queue
	hub   hub
	done  chan struct{} // closed when Run has returned
	ctx   context.Context

	status  atomic.Pointer[statusSnap]
	running atomic.Bool // Run has started

	// Owned by the Run goroutine.
	calls    map[string]*call                      // by our short ID
	byDialog map[string]*call                      // by Call-ID and our tag: see dialogKey
	unacked  map[string]*sipgo.DialogServerSession // ended before the ACK of our 200 OK came
	nextID   int
	dnd      bool
	region   string         // the tone region (media.Tone)
	waiting  *media.Overlay // where the call-waiting tone plays now, nil if nowhere
	history  []phone.CallInfo
	stopping bool
	dtlsID   *dtlsIdentity // our DTLS certificate and fingerprint (dtls.go)
	// rejectLog rate-limits the log lines of refused INVITEs (incoming.go logRejected).
	rejectLog map[string]rejectLog

	histMu   sync.Mutex
	histSnap []phone.CallInfo

	nat  natState      // owned by the Run goroutine; nat.go
	pres presenceState // owned by the Run goroutine; presence.go
	// recFinishing are recordings stopped whose files may still be being closed (record.go).
	recFinishing []*media.Recorder
	// fwd is the call forwarding in force (forward.go).
	fwd phone.Forward
}

// New wires a manager onto the user agent's SIP server. Nothing runs until Run.
func New(cfg Config) (*Manager, error) {
	if cfg.UA == nil || cfg.Device == nil {
		return nil, errors.New("callmgr: UA and Device are required")
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = maxCalls
	}
	if cfg.IncomingRingTimeout <= 0 {
		cfg.IncomingRingTimeout = defaultRingTimeout
	}
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = defaultRingTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Log.With("component", "callmgr"),
		clk:      cfg.Clock,
		ua:       cfg.UA,
		work:     newQueue(),
		done:     make(chan struct{}),
		calls:    make(map[string]*call),
		byDialog: make(map[string]*call),
		unacked:  make(map[string]*sipgo.DialogServerSession),
		dnd:      cfg.DND,
		region:   cfg.ToneRegion,
	}
	if m.region == "" {
		m.region = media.RegionFromLocale(os.Getenv)
	}
	for _, f := range cfg.Watched {
		if f.State == "" {
			f.State = "unknown"
		}
		m.pres.favorites = append(m.pres.favorites, f)
	}
	fwd, err := m.checkForward(cfg.Forward)
	if err != nil {
		return nil, fmt.Errorf("callmgr: %w", err)
	}
	m.fwd = fwd
	id, err := newDTLSIdentity(cfg.DTLSCertificate, m)
	if err != nil {
		return nil, fmt.Errorf("callmgr: %w", err)
	}
	m.dtlsID = id
	m.dlgUA = &sipgo.DialogUA{Client: cfg.UA.Client, ContactHDR: cfg.UA.Contact()}
	srv := cfg.UA.Server
	srv.OnInvite(m.guard(m.handleInvite))
	srv.OnAck(m.guard(m.handleAck))
	srv.OnBye(m.guard(m.handleBye))
	srv.OnOptions(m.guard(m.handleOptions))
	srv.OnInfo(m.guard(m.handleInfo))
	srv.OnRefer(m.guard(m.handleRefer))   // transfer.go
	srv.OnNotify(m.guard(m.handleNotify)) // presence.go: MWI and BLF; a REFER's progress goes to transfer.go
	srv.OnCancel(m.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL that matched no INVITE transaction (the matching ones never get here).
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}))
	// Any other method (REGISTER, SUBSCRIBE, a scanner's invention): 405 with what we allow,
	// after the same checks, and without sipgo's default warning per request (a flood of them
	// would be a flood of log lines).
	srv.OnNoRoute(m.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		_ = tx.Respond(res)
	}))
	m.publishStatus()
	return m, nil
}

// Run serves the manager until ctx is done; then it hangs up every call (BYE or CANCEL, bounded
// by two seconds), closes their media and returns.
func (m *Manager) Run(ctx context.Context) error {
	m.ctx = ctx
	m.running.Store(true)
	defer close(m.done)
	defer m.hub.closeAll()
	for {
		select {
		case <-ctx.Done():
			m.shutdown()
			return nil
		case <-m.work.notify:
			for _, f := range m.work.drain() {
				m.runSafe(f)
			}
			m.publishStatus()
		}
	}
}

// shutdown hangs up every call and waits (bounded) for the BYEs and CANCELs to go out.
func (m *Manager) shutdown() {
	m.stopping = true
	var wg sync.WaitGroup
	for _, c := range m.liveCalls() {
		m.hangup(c, "the phone was shut down", &wg)
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(shutdownGrace):
		m.log.Warn("some calls did not confirm hang-up before shutdown")
	}
	m.waitRecordings() // record.go
	m.publishStatus()
}

// runSafe runs one piece of the manager's work. A panic in it is logged with its stack and the
// manager goes on with the next: one request's bug must not end the phone and every call in it.
func (m *Manager) runSafe(f func()) {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("internal error in the call manager (recovered)", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	f()
}

// guard wraps a sipgo request handler: a request that fails checkRequest gets its answer there
// and never reaches the handler; a panic in the handler is logged with its stack and answered
// with 500 instead of ending the process (sipgo runs each handler on a goroutine of its own).
func (m *Manager) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				m.log.Error("internal error handling a SIP request (recovered)", "method", req.Method.String(),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if !req.IsAck() {
					_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				}
			}
		}()
		if res := checkRequest(req); res != nil {
			_ = tx.Respond(res)
			return
		}
		h(req, tx)
	}
}

// post runs f on the manager goroutine. It never blocks.
func (m *Manager) post(f func()) { m.work.push(f) }

// await runs f on the manager goroutine and waits for it, or for the manager to stop. sipgo
// handlers use it: their transaction must outlive the work.
func (m *Manager) await(f func()) {
	done := make(chan struct{})
	m.post(func() {
		defer close(done)
		f()
	})
	select {
	case <-done:
	case <-m.done:
	}
}

// do runs f on the manager goroutine and waits for its result.
func (m *Manager) do(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	m.post(func() { errc <- f() })
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrStopped
	}
}

// Call places a call to target: a favorite name, a SIP URI, user@host, an IP, or "echo".
// The account argument is reserved for SIP accounts; it must be empty for now.
func (m *Manager) Call(ctx context.Context, target, account string) (phone.CallInfo, error) {
	var info phone.CallInfo
	err := m.do(ctx, func() error {
		c, err := m.startOutgoing(target, account)
		if err != nil {
			return err
		}
		info = c.snapshot(m.clk.Now())
		return nil
	})
	return info, err
}

// Answer answers the incoming call id ("" = the only ringing one). Every other answered call is
// put on hold first (call waiting: holdOthers); if the answer fails they are taken off it again.
// It returns when the answer is on its way (or failed); the manager goroutine does not wait for
// the network or the sound card meanwhile (answer).
func (m *Manager) Answer(ctx context.Context, id string) error {
	result := make(chan error, 1)
	err := m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.state == phone.CallIncoming && !c.answering }, "ringing")
		if err != nil {
			return err
		}
		held := m.holdOthers(c)
		m.answer(c, func() {
			for _, o := range held {
				if o.state != phone.CallEnded {
					_ = m.setHold(o, false)
					m.changed(o)
				}
			}
		}, func(err error) { result <- err })
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrStopped
	}
}

// Hangup ends call id: BYE when answered, CANCEL when dialing, 603 Decline when ringing here.
func (m *Manager) Hangup(ctx context.Context, id string) error {
	return m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return true }, "")
		if err != nil {
			return err
		}
		m.hangup(c, "", nil)
		return nil
	})
}

// Hold puts call id on hold (re-INVITE with sendonly); the far end stops hearing the user at once.
func (m *Manager) Hold(ctx context.Context, id string) error {
	return m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.answered() }, "answered")
		if err != nil {
			return err
		}
		err = m.setHold(c, true)
		m.changed(c)
		return err
	})
}

// Resume takes call id off hold. Every other answered call is put on hold first, so with two
// calls resume swaps between them (holdOthers).
func (m *Manager) Resume(ctx context.Context, id string) error {
	return m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.localHold }, "held")
		if err != nil {
			return err
		}
		m.holdOthers(c)
		err = m.setHold(c, false)
		m.changed(c)
		return err
	})
}

// Mute stops (or restarts) sending the microphone on call id.
func (m *Manager) Mute(ctx context.Context, id string, on bool) error {
	return m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.answered() }, "answered")
		if err != nil {
			return err
		}
		c.muted = on
		if c.sess != nil {
			c.sess.SetMuted(c.muted || c.heldHere())
		}
		m.changed(c)
		return nil
	})
}

// SetDND turns Do Not Disturb on or off: incoming calls get 486 Busy Here while it is on.
func (m *Manager) SetDND(ctx context.Context, on bool) error {
	return m.do(ctx, func() error {
		m.dnd = on
		st := m.buildStatus()
		m.hub.publish(phone.Event{Type: phone.EventStatus, Time: m.clk.Now(), Status: &st})
		return nil
	})
}

// statusSnap is the latest status plus each listed call's media session, whose counters move
// between snapshots.
type statusSnap struct {
	st   phone.Status
	sess []*media.Session
}

// Status returns the latest snapshot of the phone, with current durations and media counters.
// It never blocks on the manager.
func (m *Manager) Status() phone.Status {
	snap := m.status.Load()
	st := snap.st
	st.Calls = slices.Clone(st.Calls)
	now := m.clk.Now()
	for i := range st.Calls {
		st.Calls[i].Duration = durationAt(st.Calls[i], now)
		if s := snap.sess[i]; s != nil {
			st.Calls[i].Media = s.Stats()
		}
	}
	return st
}

// Recent returns the last ended calls, newest first.
func (m *Manager) Recent() []phone.CallInfo {
	m.histMu.Lock()
	defer m.histMu.Unlock()
	return slices.Clone(m.histSnap)
}

// Favorites returns the configured favorites.
func (m *Manager) Favorites() map[string]string { return m.cfg.Favorites }

// Subscribe returns a stream of events and a function that ends it. The stream starts with an
// EventCall for every call already under way, so a late subscriber (a notifier starting while
// a call rings) misses nothing. A slow reader loses the oldest events, never blocks the core;
// the channel closes when the core stops.
func (m *Manager) Subscribe() (<-chan phone.Event, func()) {
	if !m.running.Load() {
		// No call exists before Run handles its first work.
		return m.hub.subscribe()
	}
	type sub struct {
		ch     <-chan phone.Event
		cancel func()
	}
	res := make(chan sub, 1)
	m.post(func() {
		// On the manager goroutine, the only publisher of call events: the replay and the live
		// stream cannot cross.
		ch, cancel := m.hub.subscribe()
		now := m.clk.Now()
		for _, c := range m.liveCalls() {
			if !c.hidden {
				snap := c.snapshot(now)
				m.hub.publishTo(ch, phone.Event{Type: phone.EventCall, Time: now, Call: &snap})
			}
		}
		res <- sub{ch, cancel}
	})
	select {
	case s := <-res:
		return s.ch, s.cancel
	case <-m.done:
		ch := make(chan phone.Event)
		close(ch)
		return ch, func() {}
	}
}

// Done is closed when Run has returned.
func (m *Manager) Done() <-chan struct{} { return m.done }

// pick finds the call a command is about: by ID, or the only call matching ok when id is "".
func (m *Manager) pick(id string, ok func(*call) bool, what string) (*call, error) {
	if id != "" {
		c := m.calls[id]
		if c == nil || c.hidden {
			return nil, fmt.Errorf("no call %s", id)
		}
		if !ok(c) {
			return nil, fmt.Errorf("call %s is %s, not %s", id, c.state, what)
		}
		return c, nil
	}
	var found []*call
	for _, c := range m.liveCalls() {
		if !c.hidden && ok(c) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		if what == "" {
			return nil, errors.New("there is no call")
		}
		return nil, fmt.Errorf("there is no %s call", what)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, c := range found {
		ids[i] = c.id
	}
	return nil, fmt.Errorf("there are %d calls (%v): say which one", len(found), ids)
}

// liveCalls returns the calls that have not ended, oldest first.
func (m *Manager) liveCalls() []*call {
	out := make([]*call, 0, len(m.calls))
	for _, c := range m.calls {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *call) int { return a.seq - b.seq })
	return out
}

func (m *Manager) newCall(dir phone.Direction, remote string) *call {
	m.nextID++
	c := &call{
		id:      strconv.Itoa(m.nextID),
		seq:     m.nextID,
		dir:     dir,
		remote:  remote,
		started: m.clk.Now(),
		// The o= session ID only has to be unique per call; time plus our counter is.
		sdpSession: uint64(m.clk.Now().Unix())<<8 | uint64(m.nextID&0xff),
	}
	m.calls[c.id] = c
	return c
}

// changed publishes c's new snapshot.
func (m *Manager) changed(c *call) {
	m.syncWaitingTone() // waiting.go
	m.autoRecord(c)     // record.go: [audio] record_calls
	if c.referOf != nil {
		m.referCallChanged(c) // transfer.go
	}
	if c.hidden {
		return
	}
	snap := c.snapshot(m.clk.Now())
	// Status first: a consumer that asks for it on this event must already see the change.
	m.publishStatus()
	m.hub.publish(phone.Event{Type: phone.EventCall, Time: m.clk.Now(), Call: &snap})
}

// warn tells the user about something on call c (nil: the phone) in plain words.
func (m *Manager) warn(c *call, msg string) {
	m.log.Warn(msg)
	ev := phone.Event{Type: phone.EventWarning, Time: m.clk.Now(), Message: msg}
	if c != nil && !c.hidden {
		snap := c.snapshot(m.clk.Now())
		ev.Call = &snap
	}
	m.hub.publish(ev)
}

// endCall moves c to ended, stops its media, and files it in the history. Safe to call twice.
func (m *Manager) endCall(c *call, reason string) {
	if c.state == phone.CallEnded {
		return
	}
	if c.state == phone.CallIncoming && !c.hidden && reason == "" {
		reason = "missed"
	}
	wasAnswered := c.answered()
	if c.result == "" {
		switch {
		case wasAnswered:
			c.result = phone.ResultAnswered
		case c.dir == phone.Incoming:
			c.result = phone.ResultMissed
		default:
			c.result = phone.ResultFailed
		}
	}
	c.state = phone.CallEnded
	c.ended = m.clk.Now()
	if c.endReason == "" {
		c.endReason = reason
	}
	if c.cancelRing != nil {
		c.cancelRing()
	}
	m.stopRecording(c, "") // record.go; before the session closes
	m.stopMedia(c)
	if c.xfer != nil && c.xfer.notes != nil {
		close(c.xfer.notes) // no more NOTIFYs on a dialog that has ended
		c.xfer.notes = nil
	}
	delete(m.calls, c.id)
	if k := dialogKey(c.sipCallID, c.localTag); m.byDialog[k] == c {
		delete(m.byDialog, k)
		if c.sdlg != nil && wasAnswered && !closed(c.inviteDone) {
			// Our 200 OK is not acknowledged yet: the BYE waits for the ACK, which must still
			// find the dialog (RFC 3261 §15).
			m.unacked[k] = c.sdlg
		}
	}
	if !c.refused { // a refused INVITE was logged (rate-limited) by logRejected
		m.log.Info("call ended", "call", c.id, "remote", c.remote, "reason", c.endReason)
	}
	if !c.hidden {
		snap := c.snapshot(c.ended)
		m.history = append([]phone.CallInfo{snap}, m.history...)
		if len(m.history) > historySize {
			m.history = m.history[:historySize]
		}
		m.histMu.Lock()
		m.histSnap = slices.Clone(m.history)
		m.histMu.Unlock()
		if m.cfg.History != nil {
			m.cfg.History.Add(historyEntry(snap, c.favorite)) // history.go; never waits on the disk
		}
	}
	m.changed(c)
}

func (m *Manager) buildStatus() phone.Status {
	st, _ := m.buildStatusSnap()
	return st
}

func (m *Manager) buildStatusSnap() (phone.Status, []*media.Session) {
	var sess []*media.Session
	st := phone.Status{
		Version:  phone.ProtocolVersion,
		Contact:  []string{m.ua.AOR()},
		DND:      m.dnd,
		Accounts: m.withVoicemail(m.accountSnapshots()),
		Calls:    []phone.CallInfo{},
	}
	if len(m.pres.favorites) > 0 {
		st.Favorites = slices.Clone(m.pres.favorites)
	}
	if m.fwd.Mode != phone.ForwardOff && m.fwd.Mode != "" {
		f := m.fwd
		st.Forward = &f
	}
	now := m.clk.Now()
	for _, c := range m.liveCalls() {
		if !c.hidden {
			st.Calls = append(st.Calls, c.snapshot(now))
			sess = append(sess, c.sess)
		}
	}
	return st, sess
}

func (m *Manager) publishStatus() {
	st, sess := m.buildStatusSnap()
	m.status.Store(&statusSnap{st: st, sess: sess})
}

func durationAt(ci phone.CallInfo, now time.Time) phone.Seconds {
	if ci.Answered.IsZero() {
		return 0
	}
	end := now
	if !ci.Ended.IsZero() {
		end = ci.Ended
	}
	return phone.Seconds(end.Sub(ci.Answered).Round(time.Second).Seconds())
}

// addrOf parses a "host:port" source address.
func addrOf(s string) netip.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// dialogKey identifies a dialog from our side: the Call-ID and our own tag. The Call-ID alone is
// not enough: both legs of the echo test share one.
func dialogKey(callID, localTag string) string { return callID + "\x00" + localTag }

// dialogOf finds the call an in-dialog request belongs to, or nil: its Call-ID and To tag must
// be the dialog's and our tag, its From tag the far end's (RFC 3261 §12.2.2), and it must come
// from the dialog's peer (inDialogPeer). Anyone who saw one packet of a call knows the Call-ID
// and our tag; without the rest they could hang the call up or move its audio (issue 14).
func (m *Manager) dialogOf(req *sip.Request) *call {
	if req.CallID() == nil || req.To() == nil || req.From() == nil {
		return nil
	}
	tag, _ := req.To().Params.Get("tag")
	c := m.byDialog[dialogKey(string(*req.CallID()), tag)]
	if c == nil {
		return nil
	}
	from, _ := req.From().Params.Get("tag")
	if remote := c.remoteTag(); remote == "" || from != remote {
		m.log.Info("in-dialog request with the wrong From tag ignored", "call", c.id, "method", req.Method.String(), "from", req.Source())
		return nil
	}
	if !m.inDialogPeer(c, req) {
		m.log.Info("in-dialog request from outside the dialog's route ignored", "call", c.id, "method", req.Method.String(), "from", req.Source())
		return nil
	}
	return c
}

// inDialogPeer reports whether req comes from where c's in-dialog requests may come from: the
// account's registrar or proxy, the dialog's first hop, the far end's Contact, or the address the
// dialog was set up with. Where one of those is a host name (it would need DNS to compare), the
// address is not checked.
func (m *Manager) inDialogPeer(c *call, req *sip.Request) bool {
	src := addrOf(req.Source()).Unmap()
	if !src.IsValid() || src == c.source {
		return true
	}
	if c.account != "" && m.cfg.Accounts != nil {
		if _, ok := m.cfg.Accounts.Admit(req); ok {
			return true
		}
	}
	dlg := c.dialog()
	if dlg == nil {
		return false
	}
	target, _, _ := byeTarget(dlg)
	for _, u := range []sip.Uri{firstHop(dlg), target} {
		ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
		if err != nil {
			return u.Host != ""
		}
		if ip.Unmap() == src {
			return true
		}
	}
	return false
}

// hasIncoming reports whether an incoming call with this Call-ID exists (a looped or repeated
// INVITE).
func (m *Manager) hasIncoming(callID string) bool {
	for _, c := range m.calls {
		if c.dir == phone.Incoming && c.sipCallID == callID {
			return true
		}
	}
	return false
}

// closed reports whether ch is closed (nil counts as closed).
func closed(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// offLoop runs work on a goroutine of its own, for what may block (the network, the sound card),
// and posts the function it returns (back) to the manager goroutine, which owns the call state
// back changes. If the manager has stopped by then, release (if any) runs instead, on work's
// goroutine, and frees what work got. The goroutine returns when work does.
func (m *Manager) offLoop(work func() (back, release func())) {
	go func() {
		back, release := work()
		select {
		case <-m.done:
			if release != nil {
				release()
			}
		default:
			m.post(back)
		}
	}()
}
