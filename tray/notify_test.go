package tray

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"trayphone/internal/siptest/dbustest"

	"github.com/godbus/dbus/v5"

	"trayphone/internal/phone"
)

const notifPath = dbus.ObjectPath("/org/freedesktop/Notifications")
const notifIface = "org.freedesktop.Notifications"

// notifyCall is one Notify the test server received.
type notifyCall struct {
	ID      uint32
	Summary string
	Body    string
	Actions []string
	Hints   map[string]dbus.Variant
}

// notifServer is a minimal org.freedesktop.Notifications server (the peer the desktop would run),
// speaking real D-Bus on the test's private bus.
type notifServer struct {
	conn    *dbus.Conn
	mu      sync.Mutex
	next    uint32
	notes   chan notifyCall
	closed  chan uint32
	actions bool
}

func startNotifServer(t *testing.T, addr string, actions bool) *notifServer {
	t.Helper()
	s := &notifServer{conn: dbustest.Connect(t, addr), notes: make(chan notifyCall, 10), closed: make(chan uint32, 10), actions: actions}
	if err := s.conn.Export(s, notifPath, notifIface); err != nil {
		t.Fatal(err)
	}
	reply, err := s.conn.RequestName(notifIface, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: reply %v, err %v", notifIface, reply, err)
	}
	return s
}

func (s *notifServer) GetCapabilities() ([]string, *dbus.Error) {
	caps := []string{"body", "body-markup"}
	if s.actions {
		caps = append(caps, "actions")
	}
	return caps, nil
}

func (s *notifServer) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "testserver", "trayphone", "1", "1.2", nil
}

func (s *notifServer) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	s.next++
	id := s.next
	s.mu.Unlock()
	s.notes <- notifyCall{ID: id, Summary: summary, Body: body, Actions: actions, Hints: hints}
	return id, nil
}

func (s *notifServer) CloseNotification(id uint32) *dbus.Error {
	s.closed <- id
	_ = s.conn.Emit(notifPath, notifIface+".NotificationClosed", id, uint32(3))
	return nil
}

func (s *notifServer) invoke(t *testing.T, id uint32, key string) {
	t.Helper()
	if err := s.conn.Emit(notifPath, notifIface+".ActionInvoked", id, key); err != nil {
		t.Fatalf("emit ActionInvoked: %v", err)
	}
}

func (s *notifServer) nextNote(t *testing.T) notifyCall {
	t.Helper()
	select {
	case n := <-s.notes:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no Notify call")
	}
	return notifyCall{}
}

func (s *notifServer) noNote(t *testing.T) {
	t.Helper()
	select {
	case n := <-s.notes:
		t.Fatalf("unexpected Notify %q / %q", n.Summary, n.Body)
	case <-time.After(200 * time.Millisecond):
	}
}

func (s *notifServer) nextClose(t *testing.T, want uint32) {
	t.Helper()
	select {
	case id := <-s.closed:
		if id != want {
			t.Fatalf("CloseNotification(%d), want %d", id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no CloseNotification(%d)", want)
	}
}

func callEvent(id string, state phone.CallState, answered bool, reason string) phone.Event {
	c := &phone.CallInfo{ID: id, Direction: phone.Incoming, Remote: "sip:bob@example.com",
		RemoteName: "Bob <Builder>", State: state, Started: time.Now(), EndReason: reason}
	if answered {
		c.Answered = time.Now()
	}
	return phone.Event{Type: phone.EventCall, Call: c}
}

// checkIncoming asserts the ringing notification's content and returns its ID.
func checkIncoming(t *testing.T, n notifyCall) uint32 {
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
	srv := startNotifServer(t, addr, true)
	ctl := newRecorder()
	n := newNotifier(dbustest.Connect(t, addr), ctl, nil, nil)
	defer n.Close()

	t.Run("answer", func(t *testing.T) {
		n.Handle(callEvent("c1", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.nextNote(t))
		n.Handle(callEvent("c1", phone.CallIncoming, false, "")) // a repeated snapshot: no second note
		srv.noNote(t)
		srv.invoke(t, id, "answer")
		expect(t, ctl.got, "answer c1")
		n.Handle(callEvent("c1", phone.CallActive, true, ""))
		srv.nextClose(t, id)
		n.Handle(callEvent("c1", phone.CallEnded, true, "bye"))
		srv.noNote(t)
	})
	t.Run("decline", func(t *testing.T) {
		n.Handle(callEvent("c2", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.nextNote(t))
		srv.invoke(t, id, "decline")
		expect(t, ctl.got, "hangup c2")
		n.Handle(callEvent("c2", phone.CallEnded, false, "declined"))
		srv.nextClose(t, id)
		srv.noNote(t) // declined here: not a missed call
	})
	t.Run("cancelled", func(t *testing.T) {
		n.Handle(callEvent("c3", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.nextNote(t))
		n.Handle(callEvent("c3", phone.CallEnded, false, "cancelled"))
		srv.nextClose(t, id)
		missed := srv.nextNote(t)
		if missed.Summary != "Missed call from Bob <Builder>" || len(missed.Actions) != 0 {
			t.Errorf("missed call note: got %q with actions %q", missed.Summary, missed.Actions)
		}
	})
	t.Run("answered elsewhere", func(t *testing.T) {
		n.Handle(callEvent("c4", phone.CallIncoming, false, ""))
		id := checkIncoming(t, srv.nextNote(t))
		n.Handle(callEvent("c4", phone.CallEnded, false, "Call completed elsewhere"))
		srv.nextClose(t, id)
		srv.noNote(t)
	})
	t.Run("stale action", func(t *testing.T) {
		srv.invoke(t, 1, "answer") // c1's note, long closed
		select {
		case g := <-ctl.got:
			t.Fatalf("controller got %q after an action on a closed note", g)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

func TestNotifierRegistrationFailsOnce(t *testing.T) {
	addr := dbustest.StartBus(t)
	srv := startNotifServer(t, addr, true)
	n := newNotifier(dbustest.Connect(t, addr), newRecorder(), nil, nil)
	defer n.Close()
	acct := func(state phone.RegState, reason string) phone.Event {
		return phone.Event{Type: phone.EventAccount, Account: &phone.AccountInfo{ID: "a1", AOR: "sip:alice@example.com", State: state, Reason: reason}}
	}
	n.Handle(acct(phone.RegRegistering, ""))
	n.Handle(acct(phone.RegFailed, "403 Forbidden"))
	if got := srv.nextNote(t); got.Summary != "Registration failed for sip:alice@example.com" || got.Body != "403 Forbidden" {
		t.Errorf("failure note: got %q / %q", got.Summary, got.Body)
	}
	for range 3 { // retries with the same failure
		n.Handle(acct(phone.RegRegistering, ""))
		n.Handle(acct(phone.RegFailed, "403 Forbidden"))
	}
	srv.noNote(t)
	n.Handle(acct(phone.RegFailed, "408 Request Timeout"))
	if got := srv.nextNote(t); got.Body != "408 Request Timeout" {
		t.Errorf("second failure note: got body %q, want 408 Request Timeout", got.Body)
	}
	n.Handle(acct(phone.RegRegistered, ""))
	n.Handle(acct(phone.RegFailed, "408 Request Timeout"))
	srv.nextNote(t) // failing again after a success is news
}

// Without the "actions" capability the ringing call gets no D-Bus note with buttons (beeep's plain
// note goes to the same server, without actions); the tray menu's Answer/Decline are the fallback.
func TestNotifierWithoutActions(t *testing.T) {
	addr := dbustest.StartBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr) // beeep's plain notification goes to this bus
	srv := startNotifServer(t, addr, false)
	n := newNotifier(dbustest.Connect(t, addr), newRecorder(), nil, nil)
	defer n.Close()
	n.Handle(callEvent("c1", phone.CallIncoming, false, ""))
	got := srv.nextNote(t)
	if len(got.Actions) != 0 {
		t.Errorf("fallback note has actions %q", got.Actions)
	}
	if !strings.Contains(got.Body, "Bob") {
		t.Errorf("fallback note body %q: want the caller", got.Body)
	}
}
