package callmgr

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/testenv"
	"trayphone/media"
)

// perCallFiles is a file audio device that records each call it is opened for to a file of its
// own (out-1.wav, out-2.wav, ...), so a phone with two calls in turn keeps both recordings.
type perCallFiles struct {
	in, dir string
	mu      sync.Mutex
	n       int
}

func newPerCallFiles(t *testing.T, hz float64) *perCallFiles {
	t.Helper()
	d := &perCallFiles{in: filepath.Join(t.TempDir(), "in.wav"), dir: t.TempDir()}
	if err := audiotest.WriteTone(d.in, hz, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *perCallFiles) Name() string { return "per-call files" }

func (d *perCallFiles) Open(rate, frameSamples int) (media.Stream, error) {
	d.mu.Lock()
	d.n++
	out := d.out(d.n)
	d.mu.Unlock()
	f, err := media.NewFile(d.in, out)
	if err != nil {
		return nil, err
	}
	return f.Open(rate, frameSamples)
}

// out is the recording of the n-th call the device was opened for.
func (d *perCallFiles) out(n int) string { return filepath.Join(d.dir, fmt.Sprintf("out-%d.wav", n)) }

// opened is how many times the device was opened.
func (d *perCallFiles) opened() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// ended waits until call id of c has ended (is no longer listed); it returns the call as last
// listed and whether it ended within timeout.
func ended(c *core, id string, timeout time.Duration) (phone.CallInfo, bool) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		var found *phone.CallInfo
		for _, ci := range c.mgr.Status().Calls {
			if ci.ID == id {
				found = &ci
			}
		}
		if found == nil {
			return phone.CallInfo{}, true
		}
		if time.Now().After(deadline) {
			return *found, false
		}
	}
}

// transferStates collects the transfer states of call id from c's events until one is final or
// timeout passes.
func transferStates(t *testing.T, c *core, id string, timeout time.Duration) []string {
	t.Helper()
	var states []string
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-c.events:
			if ev.Type != phone.EventTransfer || ev.Call == nil || ev.Call.ID != id || ev.Call.Transfer == nil {
				continue
			}
			s := ev.Call.Transfer.State
			if len(states) == 0 || states[len(states)-1] != s {
				states = append(states, s)
			}
			if s == "succeeded" || s == "failed" {
				return states
			}
		case <-deadline:
			t.Errorf("%s: transfer of call %s did not finish within %s: %v", c.name, id, timeout, states)
			return states
		}
	}
}

// TestBlindTransfer: A talks with B and transfers B to C (REFER, Refer-To C). B (transferee)
// accepts it, holds A, calls C; C rings and answers; B's call with A ends, and so does A's. A's
// event stream follows the transfer from B's NOTIFYs: trying, ringing, succeeded. B and C then
// talk: each hears the other's tone cleanly.
func TestBlindTransfer(t *testing.T) {
	checkGoroutines(t)
	bDev, cDev := newPerCallFiles(t, 604), newPerCallFiles(t, 1400)
	a := startCore(t, "a", coreOpts{toneHz: 1004})
	b := startCore(t, "b", coreOpts{callWaiting: true, device: bDev})
	c := startCore(t, "c", coreOpts{device: cDev})

	ab, ba := established(t, a, b)
	time.Sleep(500 * time.Millisecond)
	info, err := a.mgr.Transfer(ctx(t), ab.ID, c.ua.AOR(), "")
	if err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if info.Transfer == nil || info.Transfer.Role != "transferor" || info.Transfer.Target != c.ua.AOR() {
		t.Errorf("transfer snapshot %+v, want transferor to %s", info.Transfer, c.ua.AOR())
	}
	in := c.waitState(5*time.Second, phone.CallIncoming)
	time.Sleep(300 * time.Millisecond) // ringing, as the transferor sees it
	if err := c.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	states := transferStates(t, a, ab.ID, 10*time.Second)
	if strings.Join(states, ",") != "trying,ringing,succeeded" {
		t.Errorf("A saw the transfer go %v, want trying, ringing, succeeded", states)
	}
	if ci, ok := ended(b, ba.ID, 5*time.Second); !ok {
		t.Errorf("B's call with A is still %s after the transfer", ci.State)
	}
	var bc phone.CallInfo
	for _, ci := range b.mgr.Status().Calls {
		bc = ci
	}
	if bc.State != phone.CallActive || bc.Remote != c.ua.AOR() {
		t.Fatalf("B's calls after the transfer: %+v, want one active call with %s", b.mgr.Status().Calls, c.ua.AOR())
	}
	var ended phone.CallInfo
	for _, h := range a.mgr.Recent() {
		if h.ID == ab.ID {
			ended = h
		}
	}
	if !strings.Contains(ended.EndReason, "transferred to") {
		t.Errorf("A's call ended with %q, want transferred", ended.EndReason)
	}
	for _, h := range b.mgr.Recent() {
		if h.ID == ba.ID && (h.Transfer == nil || h.Transfer.Role != "transferee" || h.Transfer.State != "succeeded" || h.Transfer.NewCall != bc.ID) {
			t.Errorf("B's transferred call: transfer %+v, want transferee, succeeded, new call %s", h.Transfer, bc.ID)
		}
	}
	time.Sleep(2 * time.Second)
	logMedia(t, b, c)
	if err := b.mgr.Hangup(ctx(t), bc.ID); err != nil {
		t.Fatal(err)
	}
	c.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	if n := bDev.opened(); n != 2 || cDev.opened() != 1 {
		t.Fatalf("B's device opened %d times, C's %d; want 2 (A, then C) and 1", n, cDev.opened())
	}
	checkTone(t, bDev.out(2), 1400, 30) // B hears C
	checkTone(t, cDev.out(1), 604, 30)  // C hears B
}

// TestAttendedTransfer: A talks with B, calls C (which holds B's call), talks with C, then
// transfers B to C (REFER with Replaces of A's call with C). B calls C with Replaces; C answers
// at once, without ringing, and ends its call with A; A's two calls end. B and C then talk.
func TestAttendedTransfer(t *testing.T) {
	checkGoroutines(t)
	bDev, cDev := newPerCallFiles(t, 604), newPerCallFiles(t, 1400)
	a := startCore(t, "a", coreOpts{toneHz: 1004, callWaiting: true, device: &roomDevice{}})
	b := startCore(t, "b", coreOpts{callWaiting: true, device: bDev})
	c := startCore(t, "c", coreOpts{callWaiting: true, device: cDev})

	ab, _ := established(t, a, b)
	ac, ca := established(t, a, c) // consultation: B's call is held
	if ci, ok := callState(a, ab.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.LocalHold }); !ok {
		t.Errorf("A called C: the call with B is %s, want held", ci.State)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := a.mgr.Transfer(ctx(t), ab.ID, "", ac.ID); err != nil {
		t.Fatalf("attended transfer: %v", err)
	}
	states := transferStates(t, a, ab.ID, 10*time.Second)
	if states[len(states)-1] != "succeeded" {
		t.Errorf("A saw the transfer go %v, want it to succeed", states)
	}
	for _, id := range []string{ab.ID, ac.ID} {
		if ci, ok := ended(a, id, 5*time.Second); !ok {
			t.Errorf("A's call %s is still %s after the transfer", id, ci.State)
		}
	}
	var cb phone.CallInfo
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if calls := c.mgr.Status().Calls; len(calls) == 1 && calls[0].ID != ca.ID {
			cb = calls[0]
			break
		}
	}
	if cb.State != phone.CallActive || cb.Direction != phone.Incoming {
		t.Fatalf("C's calls after the transfer: %+v, want one active incoming call from B in place of A's", c.mgr.Status().Calls)
	}
	for _, h := range c.mgr.Recent() {
		if h.ID == cb.ID && h.Result == phone.ResultMissed {
			t.Errorf("C's replacing call was filed as missed")
		}
		if h.ID == ca.ID && !strings.Contains(h.EndReason, "replaced") {
			t.Errorf("C's call with A ended with %q, want replaced", h.EndReason)
		}
	}
	time.Sleep(2 * time.Second)
	logMedia(t, b, c)
	if err := c.mgr.Hangup(ctx(t), cb.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	time.Sleep(200 * time.Millisecond)
	if bDev.opened() != 2 || cDev.opened() != 2 {
		t.Fatalf("B's device opened %d times, C's %d; want 2 each", bDev.opened(), cDev.opened())
	}
	checkTone(t, bDev.out(2), 1400, 30) // B hears C
	checkTone(t, cDev.out(2), 604, 30)  // C hears B
}

// referIn sends a REFER with the given Refer-To values in the dialog of a's call id, as its far
// end would, and returns the status of the answer.
func referIn(t *testing.T, a *core, id string, referTo ...string) int {
	t.Helper()
	var dlg inDialog
	var target sip.Uri
	if err := a.mgr.do(ctx(t), func() error {
		c := a.mgr.calls[id]
		dlg, target = c.dialog(), c.remoteTarget()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.REFER, target)
	for _, v := range referTo {
		req.AppendHeader(sip.NewHeader("Refer-To", v))
	}
	res, err := dlg.Do(ctx(t), req)
	if err != nil {
		t.Fatalf("REFER: %v", err)
	}
	return res.StatusCode
}

// TestReferRefused: REFERs the phone must not act on are refused with the status that says why,
// a log line, and the call goes on untouched: outside a dialog, naming no dialog, without exactly
// one well-formed Refer-To, to a non-SIP address, a telephone number on a direct call, a method
// other than INVITE, a target the user's screening blocks.
func TestReferRefused(t *testing.T) {
	checkGoroutines(t)
	var log testenv.Buffer
	a := startCore(t, "a", coreOpts{})
	b := startCore(t, "b", coreOpts{logTo: &log, transferScreen: func(target string) error {
		if strings.Contains(target, "blocked@") {
			return errors.New("blocked by the user's call screening")
		}
		return nil
	}})
	ab, ba := established(t, a, b)
	carol := "sip:carol@127.0.0.1:9"
	for _, tt := range []struct {
		name    string
		referTo []string
		want    int
	}{
		{"no Refer-To", nil, 400},
		{"two Refer-To", []string{"<" + carol + ">", "<" + carol + ">"}, 400},
		{"malformed", []string{"<sip:carol@127.0.0.1"}, 400},
		{"no scheme", []string{"carol@127.0.0.1"}, 400},
		{"bad Replaces", []string{"<sip:carol@127.0.0.1?Replaces=abc%3Bto-tag%3Dx>"}, 400},
		{"http", []string{"<http://example.com/>"}, 403},
		{"tel without an account", []string{"<tel:+15550100>"}, 403},
		{"method BYE", []string{"<" + carol + ";method=BYE>"}, 403},
		{"screened", []string{"<sip:blocked@127.0.0.1:9>"}, 603},
	} {
		if got := referIn(t, a, ab.ID, tt.referTo...); got != tt.want {
			t.Errorf("%s: REFER answered %d, want %d", tt.name, got, tt.want)
		}
	}

	// Outside any dialog, and in a dialog that is not ours.
	out := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "b", Host: "127.0.0.1", Port: b.ua.Port})
	out.AppendHeader(sip.NewHeader("Refer-To", "<"+carol+">"))
	out.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: a.ua.Port}})
	if res, err := a.ua.Client.Do(ctx(t), out); err != nil || res.StatusCode != 403 {
		t.Errorf("REFER outside a dialog: %v %v, want 403", res, err)
	}
	stray := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "b", Host: "127.0.0.1", Port: b.ua.Port})
	toParams := sip.NewParams()
	toParams.Add("tag", "nosuchtag")
	stray.AppendHeader(&sip.ToHeader{Address: stray.Recipient, Params: toParams})
	stray.AppendHeader(sip.NewHeader("Refer-To", "<"+carol+">"))
	if res, err := a.ua.Client.Do(ctx(t), stray); err != nil || res.StatusCode != 481 {
		t.Errorf("REFER naming no dialog: %v %v, want 481", res, err)
	}

	if ci, ok := callState(b, ba.ID, 0, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive && ci.Transfer == nil }); !ok {
		t.Errorf("after the refused REFERs, B's call is %s, transfer %+v; want active, untouched", ci.State, ci.Transfer)
	}
	if n := len(b.mgr.Status().Calls); n != 1 {
		t.Errorf("B has %d calls, want 1: a refused REFER must call nobody", n)
	}
	for _, want := range []string{"REFER refused: malformed Refer-To", "REFER refused: the target is not allowed",
		"REFER refused: it is not part of a call", "REFER refused: it names no call of ours", "blocked by the user's call screening"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("B's log does not say %q", want)
		}
	}
}

// TestReplacesRefused: an INVITE whose Replaces is malformed gets 400, one naming no call of ours
// 481 (RFC 3891 §3), and neither rings.
func TestReplacesRefused(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{})
	b := startCore(t, "b", coreOpts{callWaiting: true})
	_, ba := established(t, a, b)
	var callID, tag, far string
	if err := b.mgr.do(ctx(t), func() error {
		c := b.mgr.calls[ba.ID]
		callID, tag, far = c.sipCallID, c.localTag, c.farTag
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		replaces string
		want     int
	}{
		{"abc;to-tag=x", 400},
		{"nosuchcall@127.0.0.1;to-tag=x;from-tag=y", 481},
		{callID + ";to-tag=" + far + ";from-tag=" + tag, 481}, // the tags swapped: not our dialog
		{callID + ";to-tag=" + tag + ";from-tag=" + far + ";early-only", 486},
	} {
		inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "b", Host: "127.0.0.1", Port: b.ua.Port})
		inv.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "127.0.0.1", Port: a.ua.Port}})
		inv.AppendHeader(sip.NewHeader("Replaces", tt.replaces))
		res, err := a.ua.Client.Do(ctx(t), inv)
		if err != nil || res.StatusCode != tt.want {
			t.Errorf("INVITE with Replaces: %s: %v %v, want %d", tt.replaces, res, err, tt.want)
		}
	}
	if n := len(b.mgr.Status().Calls); n != 1 {
		t.Errorf("B has %d calls, want 1", n)
	}
}

// TestTransferFails: A transfers B to C, who is busy (do not disturb: 486). A sees the transfer
// fail with 486 and keeps its call with B on hold; B takes its call with A off hold again.
func TestTransferFails(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{})
	b := startCore(t, "b", coreOpts{callWaiting: true})
	c := startCore(t, "c", coreOpts{dnd: true})
	ab, ba := established(t, a, b)
	if _, err := a.mgr.Transfer(ctx(t), ab.ID, c.ua.AOR(), ""); err != nil {
		t.Fatal(err)
	}
	states := transferStates(t, a, ab.ID, 10*time.Second)
	if len(states) == 0 || states[len(states)-1] != "failed" {
		t.Fatalf("A saw the transfer go %v, want it to fail", states)
	}
	ci, _ := callState(a, ab.ID, 0, func(phone.CallInfo) bool { return true })
	if ci.Transfer == nil || ci.Transfer.Status != 486 || !ci.LocalHold {
		t.Errorf("A's call after the failed transfer: transfer %+v, local hold %v; want 486, held", ci.Transfer, ci.LocalHold)
	}
	if ci, ok := callState(b, ba.ID, 5*time.Second, func(ci phone.CallInfo) bool {
		return !ci.LocalHold && ci.Transfer != nil && ci.Transfer.State == "failed"
	}); !ok {
		t.Errorf("B's call after the failed transfer: local hold %v, transfer %+v; want off hold, failed", ci.LocalHold, ci.Transfer)
	}
	if err := a.mgr.Resume(ctx(t), ab.ID); err != nil {
		t.Fatal(err)
	}
	if ci, ok := callState(b, ba.ID, 5*time.Second, func(ci phone.CallInfo) bool { return ci.State == phone.CallActive }); !ok {
		t.Errorf("A resumed: B's call is %s, want active", ci.State)
	}
}

// TestNotifyChecked: while A transfers its call with B, B's NOTIFYs are checked: a broken sipfrag
// body gets 400 and changes nothing, another event package 489, a NOTIFY on a call that is not
// being transferred 481; a good one moves the transfer on.
func TestNotifyChecked(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "a", coreOpts{})
	b := startCore(t, "b", coreOpts{})
	ab, ba := established(t, a, b)
	notify := func(event, body string) int {
		t.Helper()
		var dlg inDialog
		var target sip.Uri
		if err := b.mgr.do(ctx(t), func() error {
			c := b.mgr.calls[ba.ID]
			dlg, target = c.dialog(), c.remoteTarget()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		req := sip.NewRequest(sip.NOTIFY, target)
		req.AppendHeader(sip.NewHeader("Event", event))
		req.AppendHeader(sip.NewHeader("Subscription-State", "active;expires=60"))
		req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
		req.SetBody([]byte(body))
		res, err := dlg.Do(ctx(t), req)
		if err != nil {
			t.Fatalf("NOTIFY: %v", err)
		}
		return res.StatusCode
	}
	if got := notify("refer", "SIP/2.0 180 Ringing\r\n"); got != 481 {
		t.Errorf("NOTIFY with no transfer under way: %d, want 481", got)
	}
	if err := a.mgr.do(ctx(t), func() error {
		a.mgr.calls[ab.ID].xfer = &transfer{info: phone.TransferInfo{Role: roleTransferor, Target: "sip:carol@127.0.0.1:9", State: "trying"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		event, body string
		want        int
		state       string
	}{
		{"refer", "this is not a sipfrag", 400, "trying"},
		{"refer;id=7", "SIP/2.0 99 Early\r\n", 400, "trying"},
		{"message-summary", "Messages-Waiting: yes\r\n", 489, "trying"},
		{"refer;id=7", "SIP/2.0 180 Ringing\r\n", 200, "ringing"},
	} {
		if got := notify(tt.event, tt.body); got != tt.want {
			t.Errorf("NOTIFY %s %q: %d, want %d", tt.event, tt.body, got, tt.want)
		}
		if ci, ok := callState(a, ab.ID, time.Second, func(ci phone.CallInfo) bool { return ci.Transfer != nil && ci.Transfer.State == tt.state }); !ok {
			t.Errorf("after NOTIFY %q: A's transfer %+v, want %s", tt.body, ci.Transfer, tt.state)
		}
	}
}

// TestReferSubFalse: a REFER that says Refer-Sub: false (RFC 4488) is accepted with Refer-Sub:
// false in the 202, and no NOTIFY follows; B calls C, and its call with A ends when C answers.
func TestReferSubFalse(t *testing.T) {
	checkGoroutines(t)
	var bLog testenv.Buffer
	a := startCore(t, "a", coreOpts{})
	b := startCore(t, "b", coreOpts{callWaiting: true, logTo: &bLog})
	c := startCore(t, "c", coreOpts{})
	ab, ba := established(t, a, b)
	var dlg inDialog
	var target sip.Uri
	if err := a.mgr.do(ctx(t), func() error {
		cl := a.mgr.calls[ab.ID]
		dlg, target = cl.dialog(), cl.remoteTarget()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.REFER, target)
	req.AppendHeader(sip.NewHeader("Refer-To", "<"+c.ua.AOR()+">"))
	req.AppendHeader(sip.NewHeader("Refer-Sub", "false"))
	res, err := dlg.Do(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if h := res.GetHeader("Refer-Sub"); res.StatusCode != 202 || h == nil || h.Value() != "false" {
		t.Errorf("REFER with Refer-Sub: false answered %d, Refer-Sub %v; want 202 with Refer-Sub: false", res.StatusCode, h)
	}
	in := c.waitState(5*time.Second, phone.CallIncoming)
	if err := c.mgr.Answer(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	if ci, ok := ended(b, ba.ID, 5*time.Second); !ok {
		t.Errorf("B's call with A is still %s", ci.State)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	if strings.Contains(bLog.String(), "transfer progress") {
		t.Errorf("B sent NOTIFYs although asked not to:\n%s", bLog.String())
	}
}
