package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/clock"
	"trayphone/internal/sipua"
)

// Kind is what a subscription watches.
type Kind int

// Kinds of subscription. The zero value is KindUnknown.
const (
	KindUnknown Kind = iota
	// KindMWI is an account's voicemail box: event message-summary (RFC 3842).
	KindMWI
	// KindBLF is a favorite's line: event dialog (RFC 4235).
	KindBLF
)

// Event is the Event header value of the kind.
func (k Kind) Event() string {
	switch k {
	case KindMWI:
		return "message-summary"
	case KindBLF:
		return "dialog"
	}
	return ""
}

// String names the kind in logs.
func (k Kind) String() string {
	switch k {
	case KindMWI:
		return "mwi"
	case KindBLF:
		return "blf"
	}
	return "unknown"
}

func (k Kind) accept() string {
	if k == KindMWI {
		return SummaryType
	}
	return DialogInfoType
}

// Timing of subscriptions.
const (
	// DefaultExpires is the subscription lifetime asked for.
	DefaultExpires = 3600 * time.Second
	// attemptTimeout bounds one SUBSCRIBE transaction.
	attemptTimeout = 8 * time.Second
	// retryMin and retryMax bound the wait after a failed SUBSCRIBE (doubling in between).
	retryMin = 5 * time.Second
	retryMax = 5 * time.Minute
	// UnsubscribeTimeout bounds the un-SUBSCRIBE (Expires: 0) on shutdown.
	UnsubscribeTimeout = 2 * time.Second
)

// refreshAfter is when a subscription granted for d is renewed: well before it expires (RFC
// 6665 §4.1.2.1), at three quarters of it, and at least 1 s from now.
func refreshAfter(d time.Duration) time.Duration {
	r := d * 3 / 4
	if r < time.Second {
		r = time.Second
	}
	return r
}

// Spec is one subscription to set up.
type Spec struct {
	Kind Kind
	// Account is the account the SUBSCRIBE goes through (its identity, route and credentials).
	Account string
	// Target is who is watched: the account's own AOR for MWI, the favorite's URI for BLF.
	Target sip.Uri
	// Name is the favorite's name (BLF).
	Name string
	// Expires is the lifetime asked for (0: DefaultExpires).
	Expires time.Duration
}

// Subscription keeps one SUBSCRIBE dialog alive. Serve runs it on one goroutine; Kick and the
// Set's Notify may be called from any goroutine.
type Subscription struct {
	spec  Spec
	set   *Set
	kickc chan struct{}
	// endc says the notifier ended the subscription (Subscription-State: terminated).
	endc chan time.Duration

	// Owned by the Serve goroutine.
	callID, fromTag, toTag string
	remote                 sip.Uri // the notifier's Contact (in-dialog Request-URI)
	cseq                   uint32
	active                 bool
	fails                  int

	mu      sync.Mutex
	dialogs map[string]string // BLF: the watched dialogs (id → state) from NOTIFYs
	tag     string            // fromTag, for Notify (set.mu)
}

// matchTag returns s when tag is the From tag of its current dialog. set.mu is held.
func (s *Subscription) matchTag(tag string) *Subscription {
	if s.tag == tag {
		return s
	}
	return nil
}

// Spec returns what the subscription watches.
func (s *Subscription) Spec() Spec { return s.spec }

// Kick re-subscribes now with a new dialog (the registration changed). It never blocks.
func (s *Subscription) Kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

// Serve keeps the subscription alive until ctx is done: it subscribes at the first Kick (the
// account has registered), refreshes before the granted expiry, retries a failed SUBSCRIBE with
// backoff (retryMin..retryMax) and starts a new dialog after Kick or when the notifier ends it.
// A dialog left behind by Kick is not unsubscribed: its next NOTIFY gets 481, which ends it at
// the notifier (RFC 6665 §4.1.3). When ctx is done it unsubscribes (bounded by
// UnsubscribeTimeout) and returns nil.
func (s *Subscription) Serve(ctx context.Context) error {
	timer := s.set.clk.NewTimer(retryMax)
	timer.Stop() // armed by the first Kick's attempt
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.unsubscribe()
			return nil
		case <-s.kickc:
			s.newDialog()
			s.attempt(ctx, timer)
		case wait := <-s.endc:
			s.newDialog()
			timer.Stop()
			timer.Reset(wait)
		case <-timer.C():
			s.attempt(ctx, timer)
		}
	}
}

// newDialog forgets the current dialog: the next SUBSCRIBE starts a new one.
func (s *Subscription) newDialog() {
	if s.callID != "" {
		s.set.forget(s.callID)
	}
	s.callID, s.toTag, s.active = "", "", false
	s.mu.Lock()
	s.dialogs = nil
	s.mu.Unlock()
}

// attempt sends one SUBSCRIBE (initial or refresh) and arms timer for the next.
func (s *Subscription) attempt(ctx context.Context, timer clock.Timer) {
	expires := s.spec.Expires
	if expires <= 0 {
		expires = DefaultExpires
	}
	granted, err := s.subscribe(ctx, expires)
	timer.Stop()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.fails++
		wait := retryMin << min(s.fails-1, 6)
		wait = min(wait, retryMax)
		s.set.log.Info("subscription failed; retrying", "event", s.spec.Kind.Event(), "account", s.spec.Account,
			"target", s.spec.Target.String(), "error", err, "retry_in", wait.String())
		s.newDialog()
		timer.Reset(wait)
		return
	}
	s.fails = 0
	timer.Reset(refreshAfter(granted))
}

// subscribe sends SUBSCRIBE asking for expires and returns the granted lifetime.
func (s *Subscription) subscribe(ctx context.Context, expires time.Duration) (time.Duration, error) {
	ob, err := s.set.outbound(s.spec.Account)
	if err != nil {
		return 0, err
	}
	if ob == nil {
		return 0, fmt.Errorf("no account %q", s.spec.Account)
	}
	if s.callID == "" {
		s.callID, s.fromTag, s.toTag, s.remote = randHex(12), randHex(8), "", sip.Uri{}
		s.set.track(s.callID, s.fromTag, s)
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req := s.request(ob, expires)
	res, err := s.set.ua.Do(ctx, req)
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && ob.Password != "" {
		hop := req.Recipient
		if rt := req.Route(); rt != nil {
			hop = rt.Address
		}
		if cerr := ob.CheckChallenge(res, hop); cerr != nil {
			return 0, cerr
		}
		chal, cerr := sipua.ChallengeOf(res)
		if cerr != nil {
			return 0, cerr
		}
		req = s.request(ob, expires)
		if aerr := sipua.Authorize(req, chal, ob.AuthUser, ob.Password, 1); aerr != nil {
			return 0, aerr
		}
		res, err = s.set.ua.Do(ctx, req)
	}
	if err != nil {
		return 0, fmt.Errorf("subscribe to %s: %w", s.spec.Target.String(), err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		if s.toTag != "" && res.StatusCode == 481 {
			s.newDialog() // the notifier forgot us: start over
		}
		return 0, fmt.Errorf("subscribe to %s: %d %s", s.spec.Target.String(), res.StatusCode, res.Reason)
	}
	if to := res.To(); to != nil && s.toTag == "" {
		if tag, ok := to.Params.Get("tag"); ok {
			s.toTag = tag
		}
	}
	if ct := res.Contact(); ct != nil && s.remote.Host == "" {
		s.remote = *ct.Address.Clone()
	}
	if !s.active {
		s.set.log.Info("subscribed", "event", s.spec.Kind.Event(), "account", s.spec.Account, "target", s.spec.Target.String())
	}
	s.active = true
	granted := expires
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	return granted, nil
}

// request builds a SUBSCRIBE inside the current dialog (a new one when it has no To tag yet).
func (s *Subscription) request(ob *sipua.Outbound, expires time.Duration) *sip.Request {
	target := s.spec.Target
	if s.toTag != "" && s.remote.Host != "" {
		target = s.remote
	}
	req := sip.NewRequest(sip.SUBSCRIBE, *target.Clone())
	req.SetTransport(ob.Transport)
	if ob.Route != nil {
		req.AppendHeader(&sip.RouteHeader{Address: *ob.Route})
	}
	from := &sip.FromHeader{DisplayName: ob.DisplayName, Address: ob.From, Params: sip.NewParams()}
	from.Params.Add("tag", s.fromTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: s.spec.Target, Params: sip.NewParams()}
	if s.toTag != "" {
		to.Params.Add("tag", s.toTag)
	}
	req.AppendHeader(to)
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(&callID)
	s.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: ob.Contact})
	req.AppendHeader(sip.NewHeader("Event", s.spec.Kind.Event()))
	req.AppendHeader(sip.NewHeader("Accept", s.spec.Kind.accept()))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("User-Agent", sipua.Product))
	req.SetBody(nil)
	return req
}

// unsubscribe ends an active subscription (Expires: 0), bounded by UnsubscribeTimeout.
func (s *Subscription) unsubscribe() {
	if !s.active {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), UnsubscribeTimeout)
	defer cancel()
	if _, err := s.subscribe(ctx, 0); err != nil {
		s.set.log.Debug("could not unsubscribe", "event", s.spec.Kind.Event(), "target", s.spec.Target.String(), "error", err)
	}
	s.newDialog()
}

// ended is called by Notify when the notifier ended the subscription; Serve subscribes again
// after wait.
func (s *Subscription) ended(wait time.Duration) {
	select {
	case s.endc <- wait:
	default:
	}
}

// merge applies a dialog-info document and returns the line state.
func (s *Subscription) merge(d DialogInfo) LineState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dialogs = Merge(s.dialogs, d)
	return StateOf(s.dialogs)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
