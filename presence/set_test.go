package presence

import (
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/phone"
)

// notify builds a NOTIFY inside the dialog callID/tag (our tag is the To tag).
func notify(callID, tag, event, state, ctype, body string) *sip.Request {
	req := sip.NewRequest(sip.NOTIFY, sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"})
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "example.org"}, Params: sip.NewParams()}
	if tag != "" {
		to.Params.Add("tag", tag)
	}
	req.AppendHeader(to)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "example.org"}, Params: sip.NewParams()}
	from.Params.Add("tag", "n1")
	req.AppendHeader(from)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if ctype != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", ctype))
	}
	req.SetBody([]byte(body))
	return req
}

func TestNotifyRouting(t *testing.T) {
	t.Parallel()
	var fav sip.Uri
	if err := sip.ParseUri("sip:bob@example.org", &fav); err != nil {
		t.Fatal(err)
	}
	s := NewSet(nil, nil, nil, []Spec{{Kind: KindBLF, Account: "work", Target: fav, Name: "Front desk"}})
	sub := s.Subscriptions()[0]
	s.track("cid1", "tag1", sub)

	code := func(err error) int {
		var ne *NotifyError
		if errors.As(err, &ne) {
			return ne.Code
		}
		return 0
	}
	u, err := s.Notify(notify("cid1", "tag1", "dialog", "active;expires=60", DialogInfoType, rfc4235Confirmed))
	if err != nil || u.Line != LineBusy || u.Name != "Front desk" || u.Account != "work" {
		t.Fatalf("in-dialog NOTIFY: got %+v, %v; want busy for Front desk", u, err)
	}
	for _, tc := range []struct {
		name string
		req  *sip.Request
		want int
	}{
		{"wrong tag", notify("cid1", "other", "dialog", "active", DialogInfoType, rfc4235Confirmed), 481},
		{"no tag", notify("cid1", "", "dialog", "active", DialogInfoType, rfc4235Confirmed), 481},
		{"unknown call", notify("cid2", "tag1", "dialog", "active", DialogInfoType, rfc4235Confirmed), 481},
		{"wrong event", notify("cid1", "tag1", "presence", "active", DialogInfoType, rfc4235Confirmed), 489},
		{"wrong type", notify("cid1", "tag1", "dialog", "active", "application/pidf+xml", rfc4235Confirmed), 415},
		{"broken body", notify("cid1", "tag1", "dialog", "active", DialogInfoType, "<dialog-info"), 400},
		{"unsolicited mwi, no trust", notify("cid9", "", "message-summary", "active", SummaryType, rfc3842Simple), 403},
	} {
		if _, err := s.Notify(tc.req); code(err) != tc.want {
			t.Errorf("%s: got %v, want status %d", tc.name, err, tc.want)
		}
	}
	// The notifier ends the subscription: Serve is told to subscribe again after retry-after.
	u, err = s.Notify(notify("cid1", "tag1", "dialog", "terminated;reason=timeout;retry-after=30", DialogInfoType, rfc4235Terminated))
	if err != nil || u.Line != LineIdle {
		t.Fatalf("final NOTIFY: got %+v, %v; want idle", u, err)
	}
	select {
	case wait := <-sub.endc:
		if wait != 30*time.Second {
			t.Errorf("retry after: got %s, want 30s", wait)
		}
	default:
		t.Error("a terminated subscription was not handed back to Serve")
	}
	// A NOTIFY without a body while pending changes nothing.
	if _, err := s.Notify(notify("cid1", "tag1", "dialog", "pending", "", "")); !IsEmpty(err) {
		t.Errorf("pending NOTIFY without a body: got %v, want the empty-NOTIFY error", err)
	}
}

// TestAccountChanged: an account's subscriptions start a new dialog each time it becomes
// registered (first registration, after an outage or a network change), not on refreshes, and
// not those of other accounts.
func TestAccountChanged(t *testing.T) {
	t.Parallel()
	var aor sip.Uri
	if err := sip.ParseUri("sip:alice@example.org", &aor); err != nil {
		t.Fatal(err)
	}
	s := NewSet(nil, nil, nil, []Spec{{Kind: KindMWI, Account: "work", Target: aor}, {Kind: KindMWI, Account: "home", Target: aor}})
	work, home := s.Subscriptions()[0], s.Subscriptions()[1]
	kicked := func(sub *Subscription) bool {
		select {
		case <-sub.kickc:
			return true
		default:
			return false
		}
	}
	for i, step := range []struct {
		state phone.RegState
		want  bool
	}{
		{phone.RegRegistering, false},
		{phone.RegRegistered, true},  // first registration
		{phone.RegRegistered, false}, // a refresh
		{phone.RegRegistering, false},
		{phone.RegRegistered, true}, // registered again (new Contact perhaps)
	} {
		s.AccountChanged(phone.AccountInfo{ID: "work", State: step.state})
		if got := kicked(work); got != step.want {
			t.Errorf("step %d (%s): kicked %v, want %v", i, step.state, got, step.want)
		}
		if kicked(home) {
			t.Errorf("step %d: the other account's subscription was kicked", i)
		}
	}
}
