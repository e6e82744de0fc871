package dbustest

import (
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// The freedesktop notification service's object path and interface.
const (
	NotifPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	NotifIface = "org.freedesktop.Notifications"
)

// Notification is one Notify call a NotifServer received.
type Notification struct {
	ID      uint32
	Summary string
	Body    string
	Actions []string
	Hints   map[string]dbus.Variant
}

// NotifServer is a minimal org.freedesktop.Notifications server (the peer a desktop runs),
// speaking real D-Bus on the test's private bus. Notes receives every notification shown.
type NotifServer struct {
	Notes   chan Notification
	conn    *dbus.Conn
	mu      sync.Mutex
	next    uint32
	closed  chan uint32
	actions bool
}

// StartNotifServer connects to the bus at addr and serves notifications there; actions says
// whether it advertises action buttons.
func StartNotifServer(t testing.TB, addr string, actions bool) *NotifServer {
	t.Helper()
	s := &NotifServer{conn: Connect(t, addr), Notes: make(chan Notification, 10), closed: make(chan uint32, 10), actions: actions}
	if err := s.conn.Export(s, NotifPath, NotifIface); err != nil {
		t.Fatal(err)
	}
	reply, err := s.conn.RequestName(NotifIface, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: reply %v, err %v", NotifIface, reply, err)
	}
	return s
}

// GetCapabilities is the D-Bus method.
func (s *NotifServer) GetCapabilities() ([]string, *dbus.Error) {
	caps := []string{"body", "body-markup"}
	if s.actions {
		caps = append(caps, "actions")
	}
	return caps, nil
}

// GetServerInformation is the D-Bus method.
func (s *NotifServer) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "testserver", "trayphone", "1", "1.2", nil
}

// Notify is the D-Bus method: the notification goes to Notes.
func (s *NotifServer) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	s.next++
	id := s.next
	s.mu.Unlock()
	s.Notes <- Notification{ID: id, Summary: summary, Body: body, Actions: actions, Hints: hints}
	return id, nil
}

// CloseNotification is the D-Bus method; it answers with NotificationClosed as a desktop does.
func (s *NotifServer) CloseNotification(id uint32) *dbus.Error {
	s.closed <- id
	_ = s.conn.Emit(NotifPath, NotifIface+".NotificationClosed", id, uint32(3))
	return nil
}

// Invoke clicks the action key of notification id (ActionInvoked).
func (s *NotifServer) Invoke(t testing.TB, id uint32, key string) {
	t.Helper()
	if err := s.conn.Emit(NotifPath, NotifIface+".ActionInvoked", id, key); err != nil {
		t.Fatalf("emit ActionInvoked: %v", err)
	}
}

// NextNote returns the next notification shown, failing the test after 10 s.
func (s *NotifServer) NextNote(t testing.TB) Notification {
	t.Helper()
	select {
	case n := <-s.Notes:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no Notify call")
	}
	return Notification{}
}

// NoNote fails the test if a notification is shown within 200 ms.
func (s *NotifServer) NoNote(t testing.TB) {
	t.Helper()
	select {
	case n := <-s.Notes:
		t.Fatalf("unexpected Notify %q / %q", n.Summary, n.Body)
	case <-time.After(200 * time.Millisecond):
	}
}

// WaitClosed waits up to 10 s for the next CloseNotification and checks it closes want.
func (s *NotifServer) WaitClosed(t testing.TB, want uint32) {
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
