package presence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/clock"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// UA sends requests outside a call (*sipua.UA has it).
type UA interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
}

// Update is what one accepted NOTIFY says.
type Update struct {
	Kind    Kind
	Account string
	// Name and Target are the favorite (BLF).
	Name   string
	Target string
	// Summary is the voicemail box (MWI).
	Summary Summary
	// Line is the favorite's line (BLF).
	Line LineState
}

// NotifyError is why a NOTIFY was refused: the SIP status to answer with and the reason in
// words a user understands.
type NotifyError struct {
	Code   int
	Reason string // the response's reason phrase
	Err    error
}

func (e *NotifyError) Error() string { return e.Err.Error() }
func (e *NotifyError) Unwrap() error { return e.Err }

// Set is every subscription of the phone. Its methods are safe from any goroutine.
type Set struct {
	ua       UA
	outbound func(account string) (*sipua.Outbound, error)
	admit    func(req *sip.Request) (string, bool)
	clk      clock.Clock
	log      *slog.Logger
	subs     []*Subscription

	mu         sync.Mutex
	byCallID   map[string]*Subscription
	registered map[string]bool // by account ID, for AccountChanged
}

// Option changes a Set for tests.
type Option func(*Set)

// WithClock sets the clock (default: the real one).
func WithClock(c clock.Clock) Option { return func(s *Set) { s.clk = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Set) { s.log = l } }

// NewSet prepares one subscription per spec through ua. outbound says how requests leave
// through an account (account.Set.Outbound); admit says whether a request came from an
// account's registrar or outbound proxy and for which account (account.Set.Admit): only those
// may send a message-summary NOTIFY outside a subscription. Nothing is sent until Serve.
func NewSet(ua UA, outbound func(account string) (*sipua.Outbound, error), admit func(*sip.Request) (string, bool), specs []Spec, opts ...Option) *Set {
	s := &Set{ua: ua, outbound: outbound, admit: admit, clk: clock.Real{}, log: slog.New(slog.DiscardHandler),
		byCallID: map[string]*Subscription{}, registered: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	for _, sp := range specs {
		s.subs = append(s.subs, &Subscription{spec: sp, set: s, kickc: make(chan struct{}, 1), endc: make(chan time.Duration, 1)})
	}
	return s
}

// Subscriptions returns the subscriptions in the order of their specs.
func (s *Set) Subscriptions() []*Subscription { return s.subs }

// Serve runs every subscription, one goroutine each, until ctx is done; it returns when each has
// unsubscribed (bounded by UnsubscribeTimeout).
func (s *Set) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, sub := range s.subs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = sub.Serve(ctx) }() // returns when ctx is done
	}
	wg.Wait()
	return nil
}

// Kick re-subscribes every subscription of account ("" = all) with a new dialog: the account
// registered again, perhaps with a new Contact.
func (s *Set) Kick(account string) {
	for _, sub := range s.subs {
		if account == "" || sub.spec.Account == account {
			sub.Kick()
		}
	}
}

// AccountChanged follows an account's registration (account.WithOnChange calls it from the
// registration's goroutine): when the account becomes registered — the first time, or again
// after an outage or a network change, perhaps with a new Contact — its subscriptions start a
// new dialog. It never blocks.
func (s *Set) AccountChanged(info phone.AccountInfo) {
	s.mu.Lock()
	was := s.registered[info.ID]
	now := info.State == phone.RegRegistered
	s.registered[info.ID] = now
	s.mu.Unlock()
	if now && !was {
		s.Kick(info.ID)
	}
}

func (s *Set) track(callID, fromTag string, sub *Subscription) {
	s.mu.Lock()
	sub.tag = fromTag
	s.byCallID[callID] = sub
	s.mu.Unlock()
}

func (s *Set) forget(callID string) {
	s.mu.Lock()
	delete(s.byCallID, callID)
	s.mu.Unlock()
}

// lookup finds the subscription a NOTIFY belongs to: its Call-ID and its To tag (our From tag).
func (s *Set) lookup(req *sip.Request) *Subscription {
	cid := req.CallID()
	to := req.To()
	if cid == nil || to == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.byCallID[cid.Value()]
	if sub == nil || tag == "" {
		return nil
	}
	return sub.matchTag(tag)
}

// Notify handles one NOTIFY (RFC 6665 §4.1.3): it finds the subscription it belongs to, or
// accepts an unsolicited message-summary from an account's registrar or outbound proxy, checks
// the Event and Content-Type and parses the body. The error is a *NotifyError with the status
// to answer. It never blocks on the network.
func (s *Set) Notify(req *sip.Request) (Update, error) {
	event := eventPackage(req)
	sub := s.lookup(req)
	var u Update
	switch {
	case sub != nil:
		if event != sub.spec.Kind.Event() {
			return u, &NotifyError{489, "Bad Event", fmt.Errorf("a NOTIFY for event %q in a %s subscription", clip(event), sub.spec.Kind.Event())}
		}
		u = Update{Kind: sub.spec.Kind, Account: sub.spec.Account, Name: sub.spec.Name, Target: sub.spec.Target.String()}
		if wait, ended := terminated(req); ended {
			sub.ended(wait)
		}
	case event == KindMWI.Event():
		acct, ok := "", false
		if s.admit != nil {
			acct, ok = s.admit(req)
		}
		if !ok {
			return u, &NotifyError{403, "Forbidden", fmt.Errorf("an unsolicited voicemail notification from %s, which is not an account's registrar or proxy", req.Source())}
		}
		u = Update{Kind: KindMWI, Account: acct}
	default:
		return u, &NotifyError{481, "Subscription Does Not Exist", fmt.Errorf("a NOTIFY for event %q matches no subscription", clip(event))}
	}
	body := req.Body()
	if len(body) == 0 {
		if u.Kind == KindBLF && !ended(req) && !pending(req) {
			// An active dialog subscription without a body: the notifier knows no dialog of the
			// watched user (Kamailio's presence_dialoginfo sends this before any PUBLISH).
			u.Line = sub.merge(DialogInfo{Full: true})
			return u, nil
		}
		return u, errNoBody // a NOTIFY without state (e.g. pending, or the final one)
	}
	if ct := req.ContentType(); ct != nil {
		mt, _, err := mime.ParseMediaType(ct.Value())
		if err != nil || !strings.EqualFold(mt, u.Kind.accept()) {
			return u, &NotifyError{415, "Unsupported Media Type", fmt.Errorf("a %s NOTIFY with content type %q, want %s", u.Kind.Event(), clip(ct.Value()), u.Kind.accept())}
		}
	}
	switch u.Kind {
	case KindMWI:
		sum, err := ParseSummary(body)
		if err != nil {
			return u, &NotifyError{400, "Bad message summary", err}
		}
		u.Summary = sum
	case KindBLF:
		d, err := ParseDialogInfo(body)
		if err != nil {
			return u, &NotifyError{400, "Bad dialog-info", err}
		}
		u.Line = sub.merge(d)
	}
	return u, nil
}

// errNoBody is returned for a NOTIFY without a body: answer 200, nothing to show.
var errNoBody = errors.New("the NOTIFY has no body")

// IsEmpty reports whether err says the NOTIFY had no body (it is answered 200 and changes
// nothing).
func IsEmpty(err error) bool { return errors.Is(err, errNoBody) }

// eventPackage is the Event header's package name, without parameters (RFC 6665 §8.2.1).
func eventPackage(req *sip.Request) string {
	h := req.GetHeader("Event")
	if h == nil {
		h = req.GetHeader("o")
	}
	if h == nil {
		return ""
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(v))
}

// ended reports whether the NOTIFY ends the subscription.
func ended(req *sip.Request) bool { _, e := terminated(req); return e }

// pending reports whether the subscription is not yet authorized (Subscription-State: pending).
func pending(req *sip.Request) bool {
	h := req.GetHeader("Subscription-State")
	if h == nil {
		return false
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(v), "pending")
}

// terminated reports whether the NOTIFY ends the subscription (Subscription-State: terminated,
// RFC 6665 §4.1.3) and how long to wait before subscribing again (retry-after, else retryMin).
func terminated(req *sip.Request) (time.Duration, bool) {
	h := req.GetHeader("Subscription-State")
	if h == nil {
		return 0, false
	}
	parts := strings.Split(h.Value(), ";")
	if !strings.EqualFold(strings.TrimSpace(parts[0]), "terminated") {
		return 0, false
	}
	wait := retryMin
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "retry-after") {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				wait = min(time.Duration(n)*time.Second, retryMax)
			}
		}
	}
	return wait, true
}
