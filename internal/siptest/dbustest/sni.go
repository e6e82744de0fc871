package dbustest

import (
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// Watcher is a minimal org.kde.StatusNotifierWatcher, the tray host's side: each item that
// registers is sent to Items as its bus name followed by its object path or service.
type Watcher struct{ Items chan string }

// RegisterStatusNotifierItem is the D-Bus method items call.
func (w *Watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.Items <- string(sender) + service
	return nil
}

// RegisterStatusNotifierHost is the D-Bus method hosts call; nothing to record.
func (w *Watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// StartWatcher exports a Watcher on conn and takes the org.kde.StatusNotifierWatcher name, so
// that tray items on the bus find a host.
func StartWatcher(t testing.TB, conn *dbus.Conn) *Watcher {
	t.Helper()
	w := &Watcher{Items: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the StatusNotifierWatcher name: reply %v, err %v", reply, err)
	}
	return w
}

// MenuItem is one node of a com.canonical.dbusmenu layout (GetLayout's third result).
type MenuItem struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []MenuItem
}

// ParseMenu turns a GetLayout layout value into a MenuItem tree.
func ParseMenu(v any) MenuItem {
	s := v.([]any)
	n := MenuItem{ID: s[0].(int32), Props: s[1].(map[string]dbus.Variant)}
	for _, c := range s[2].([]dbus.Variant) {
		n.Children = append(n.Children, ParseMenu(c.Value()))
	}
	return n
}

// Find returns the visible item at a label path like "Favorites/Bob".
func (n MenuItem) Find(path string) (MenuItem, bool) {
	first, rest, more := strings.Cut(path, "/")
	for _, c := range n.Children {
		if l, _ := c.Props["label"].Value().(string); l == first {
			if v, ok := c.Props["visible"]; ok && v.Value() == false {
				continue
			}
			if !more {
				return c, true
			}
			return c.Find(rest)
		}
	}
	return MenuItem{}, false
}
