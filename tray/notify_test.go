package tray

import (
	"slices"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/dbustest"
)

func callEvent(id string, state phone.CallState, answered bool, reason string) phone.Event {
	c := &phone.CallInfo{ID: id, Direction: phone.Incoming, Remote: "sip:bob@example.com",
		RemoteName: "Bob <Builder>", State: state, Started: time.Now(), EndReason: reason}
	if answered {
		c.Answered = time.Now()
	}
	return phone.Event{Type: phone.EventCall, Call: c}
}

// checkIncoming asserts the ringing notification's content and returns its ID.
func checkIncoming(t *testing.T, n dbustest.Notification) uint32 {
	t.Helper()
	for _, a := range []string{"answer", "decline"} {
		if i := slices.Index(n.Actions, a); i < 0 || i%2 != 0 {
			t.Errorf("actions %q: want key %q", n.Actions, a)
		}
	}
	// The caller's name with its markup escaped, and the number.
	if !strings.Contains(n.Body, "Bob &lt;Builder&gt;") || !strings.Contains(n.Body, "sip:bob@example.com") {
		t.Errorf("body %q: want the escaped caller name and the URI", n.Body)
	}
	if u, ok := n.Hints["urgency"].Value().(byte); !ok || u != 2 {
		t.Errorf("urgency hint: got %v, want byte 2 (critical)", n.Hints["urgency"])
	}
	if c := n.Hints["category"].Value(); c != "call.incoming" {
		t.Errorf("category hint: got %v, want call.incoming", c)
	}
	return n.ID
}

func TestNotifierIncomingCall(t *testing.T) {
	addr := dbustest.StartBus(t)
	srv := dbustest.StartNotifServer(t, addr, true)
	ctl := newRecorder()
	n := newNotifier(dbustest.Connect(t, addr), ctl, nil, nil)
	defer n.Close()

	t.Run("answer", func(t *testing.T) {
		n.Handle(callEvent("c1", phone.CallIncoming, false, ""))
		note := srv.NextNote(t)
		id := checkIncoming(t, note)
		if note.Summary != "Incoming call" {
			t.Errorf("plain call's summary %q, want no lock", note.Summary)
		}
		n.Handle(callEvent("c1", phone.CallIncoming, false, "")) // a repeated snapshot: no second note
		srv.NoNote(t)
		srv.Invoke(t, id, "answer")
		expect(t, ctl.got, "answer c1")
		n.Handle(callEvent("c1", phone.CallActive, true, ""))
		srv.WaitClosed(t, id)
		n.Handle(callEvent("c1", phone.CallEnded, true, "bye"))
		srv.NoNote(t)
	})
	t.Run("decline", func(t *testing.T) {
		n.Handle(callEvent("c2", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.NextNote(t))
		srv.Invoke(t, id, "decline")
		expect(t, ctl.got, "hangup c2")
		n.Handle(callEvent("c2", phone.CallEnded, false, "declined"))
		srv.WaitClosed(t, id)
		srv.NoNote(t) // declined here: not a missed call
	})
	t.Run("cancelled", func(t *testing.T) {
		n.Handle(callEvent("c3", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.NextNote(t))
		n.Handle(callEvent("c3", phone.CallEnded, false, "cancelled"))
		srv.WaitClosed(t, id)
		missed := srv.NextNote(t)
		if missed.Summary != "Missed call from Bob <Builder>" || len(missed.Actions) != 0 {
			t.Errorf("missed call note: got %q with actions %q", missed.Summary, missed.Actions)
		}
	})
	t.Run("answered elsewhere", func(t *testing.T) {
		n.Handle(callEvent("c4", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.NextNote(t))
		n.Handle(callEvent("c4", phone.CallEnded, false, "Call completed elsewhere"))
		srv.WaitClosed(t, id)
		srv.NoNote(t)
	})
	t.Run("encrypted", func(t *testing.T) {
		ev := callEvent("c5", phone.CallIncoming, false, "")
		ev.Call.Encryption = "srtp"
		n.Handle(ev)
		note := srv.NextNote(t)
		id := checkIncoming(t, note)
		if note.Summary != "🔒 Incoming call (encrypted)" {
			t.Errorf("encrypted call's summary %q, want the lock", note.Summary)
		}
		n.Handle(callEvent("c5", phone.CallEnded, false, "Call completed elsewhere"))
		srv.WaitClosed(t, id)
	})
	t.Run("stale action", func(t *testing.T) {
		srv.Invoke(t, 1, "answer") // c1's note, long closed
		select {
		case g := <-ctl.got:
			t.Fatalf("controller got %q after an action on a closed note", g)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

func TestNotifierRegistrationFailsOnce(t *testing.T) {
	addr := dbustest.StartBus(t)
	srv := dbustest.StartNotifServer(t, addr, true)
	n := newNotifier(dbustest.Connect(t, addr), newRecorder(), nil, nil)
	defer n.Close()
	acct := func(state phone.RegState, reason string) phone.Event {
		return phone.Event{Type: phone.EventAccount, Account: &phone.AccountInfo{ID: "a1", AOR: "sip:alice@example.com", State: state, Reason: reason}}
	}
	n.Handle(acct(phone.RegRegistering, ""))
	n.Handle(acct(phone.RegFailed, "403 Forbidden"))
	if got := srv.NextNote(t); got.Summary != "Registration failed for sip:alice@example.com" || got.Body != "403 Forbidden" {
		t.Errorf("failure note: got %q / %q", got.Summary, got.Body)
	}
	for range 3 { // retries with the same failure
		n.Handle(acct(phone.RegRegistering, ""))
		n.Handle(acct(phone.RegFailed, "403 Forbidden"))
	}
	srv.NoNote(t)
	n.Handle(acct(phone.RegFailed, "408 Request Timeout"))
	if got := srv.NextNote(t); got.Body != "408 Request Timeout" {
		t.Errorf("second failure note: got body %q, want 408 Request Timeout", got.Body)
	}
	n.Handle(acct(phone.RegRegistered, ""))
	n.Handle(acct(phone.RegFailed, "408 Request Timeout"))
	srv.NextNote(t) // failing again after a success is news
}

// Without the "actions" capability the ringing call gets no D-Bus note with buttons (beeep's plain
// note goes to the same server, without actions); the tray menu's Answer/Decline are the fallback.
func TestNotifierWithoutActions(t *testing.T) {
	addr := dbustest.StartBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr) // beeep's plain notification goes to this bus
	srv := dbustest.StartNotifServer(t, addr, false)
	n := newNotifier(dbustest.Connect(t, addr), newRecorder(), nil, nil)
	defer n.Close()
	n.Handle(callEvent("c1", phone.CallIncoming, false, ""))
	got := srv.NextNote(t)
	if len(got.Actions) != 0 {
		t.Errorf("fallback note has actions %q", got.Actions)
	}
	if !strings.Contains(got.Body, "Bob") {
		t.Errorf("fallback note body %q: want the caller", got.Body)
	}
}

// TestNotifierLineOpen: a call answered automatically shows that the line is open, with a Mute
// button that mutes it; the notification closes when the call is muted, and comes once.
func TestNotifierLineOpen(t *testing.T) {
	addr := dbustest.StartBus(t)
	srv := dbustest.StartNotifServer(t, addr, true)
	ctl := newRecorder()
	n := newNotifier(dbustest.Connect(t, addr), ctl, nil, nil)
	defer n.Close()
	ev := callEvent("c9", phone.CallActive, true, "")
	ev.Call.AutoAnswered = true
	n.Handle(ev)
	note := srv.NextNote(t)
	if !strings.Contains(note.Summary, "Line open") || !strings.Contains(note.Body, "microphone is on") || !slices.Contains(note.Actions, "mute") {
		t.Errorf("notification %q / %q with actions %q: want the line open, said plainly, with Mute", note.Summary, note.Body, note.Actions)
	}
	n.Handle(ev) // a later snapshot: no second note
	srv.NoNote(t)
	srv.Invoke(t, note.ID, "mute")
	expect(t, ctl.got, "mute c9")
	muted := callEvent("c9", phone.CallActive, true, "")
	muted.Call.AutoAnswered, muted.Call.Muted = true, true
	n.Handle(muted)
	srv.WaitClosed(t, note.ID)
	// A call the user answered: no such note.
	n.Handle(callEvent("c10", phone.CallActive, true, ""))
	srv.NoNote(t)
}

// fakeToaster records the toasts shown.
type fakeToaster struct {
	shown chan toastNote
	err   error
}

func (f *fakeToaster) show(t toastNote) error {
	f.shown <- t
	return f.err
}

// TestNotifierToast: without a D-Bus notification server but with toasts (Windows), an incoming
// call's toast carries Answer and Decline arguments for that call; pressing one runs it while the
// call rings, and nothing once it has ended or for arguments that are not ours.
func TestNotifierToast(t *testing.T) {
	ctl := newRecorder()
	n := newNotifier(nil, ctl, nil, nil)
	defer n.Close()
	ft := &fakeToaster{shown: make(chan toastNote, 4)}
	n.toast = ft

	n.Handle(callEvent("c1", phone.CallIncoming, false, ""))
	note := <-ft.shown
	if note.Title != "Incoming call" || !strings.Contains(note.Body, "Bob <Builder>") || !strings.Contains(note.Body, "sip:bob@example.com") {
		t.Errorf("toast %+v: want the caller's name and URI", note)
	}
	if note.Answer != "answer:c1" || note.Decline != "decline:c1" {
		t.Errorf("toast buttons %q %q: want answer:c1 and decline:c1", note.Answer, note.Decline)
	}
	n.onToast("bogus")
	n.onToast("answer:")
	n.onToast("hangup:c1")
	n.onToast("answer:c9") // not ringing here
	n.onToast(note.Answer)
	expect(t, ctl.got, "answer c1")

	n.Handle(callEvent("c2", phone.CallIncoming, false, ""))
	note = <-ft.shown
	n.onToast(note.Decline)
	expect(t, ctl.got, "hangup c2")
	n.Handle(callEvent("c2", phone.CallEnded, false, "declined"))
	n.onToast(note.Answer) // the call has ended: nothing
	select {
	case got := <-ctl.got:
		t.Errorf("after the call ended: %q", got)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestParseToastArgs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in      string
		key, id string
		ok      bool
	}{
		{"answer:c1", "answer", "c1", true},
		{"decline:c1:x", "decline", "c1:x", true},
		{"answer:", "", "", false},
		{"call:c1", "", "", false},
		{"", "", "", false},
		{"answer", "", "", false},
	} {
		key, id, ok := parseToastArgs(c.in)
		if key != c.key || id != c.id || ok != c.ok {
			t.Errorf("parseToastArgs(%q): got %q %q %v, want %q %q %v", c.in, key, id, ok, c.key, c.id, c.ok)
		}
	}
}

// FuzzParseToastArgs: whatever Windows hands back, parseToastArgs accepts only what toastArgs
// makes, and gives back exactly its parts.
func FuzzParseToastArgs(f *testing.F) {
	for _, s := range []string{"answer:c1", "decline:7", "answer:", ":c1", "call:c1", "", "answer:c1:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, id, ok := parseToastArgs(s)
		if !ok {
			return
		}
		if (key != actionAnswer && key != actionDecline) || id == "" || toastArgs(key, id) != s {
			t.Fatalf("parseToastArgs(%q) = %q, %q: not what toastArgs makes", s, key, id)
		}
	})
}
