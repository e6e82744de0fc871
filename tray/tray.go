// Package tray is trayphone's tray icon, menu and notifications. It is a client of the core: it sees
// only internal/phone snapshots and events, and turns clicks into commands on a small Controller.
package tray

import (
	"context"
	"log/slog"
	"runtime"

	"trayphone/internal/phone"
)

const appName = "trayphone"

// Controller is what the tray needs from the core (*callmgr.Manager plus the account and config
// glue satisfies it).
type Controller interface {
	Call(ctx context.Context, target string) error
	Answer(ctx context.Context, id string) error
	Hangup(ctx context.Context, id string) error
	Hold(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Transfer transfers call id to target (blind) or, with consult set, to the far end of call
	// consult (attended).
	Transfer(ctx context.Context, id, target, consult string) error
	Mute(ctx context.Context, id string, on bool) error
	// Record starts (on) or stops recording call id.
	Record(ctx context.Context, id string, on bool) error
	// SetForward changes call forwarding (Mode off turns it off).
	SetForward(ctx context.Context, f phone.Forward) error
	SendDTMF(ctx context.Context, id, digits string) error
	SetDND(ctx context.Context, on bool) error
	// Status returns a fresh snapshot of the whole phone.
	Status() phone.Status
	// Subscribe returns the core's event stream and a function that ends the subscription (and
	// closes the channel).
	Subscribe() (<-chan phone.Event, func())
	// Favorites returns the favorites to offer in the menu, in menu order.
	Favorites() []Favorite
	// Recent returns the call history, newest first, unseen missed calls marked.
	Recent() []phone.HistoryEntry
	// MarkMissedSeen marks the missed calls as seen: the user opened the menu that shows them.
	MarkMissedSeen()
}

// Favorite is one entry of the Favorites submenu.
type Favorite struct {
	Name string
	URI  string
}

// Options configure Run.
type Options struct {
	// ConfigPath is opened with xdg-open by "Open config"; empty hides the item.
	ConfigPath string
	// EchoTestURI is dialled by "Echo test"; empty hides the item.
	EchoTestURI string
	// Logger receives the tray's log lines; nil discards them.
	Logger *slog.Logger
	// IconSize is the pixel size of the exported icon; 0 means 64 (hosts scale it down).
	IconSize int
	// Names maps a remote URI to a display name (imported contacts); it is asked when no favorite
	// matches, from any goroutine. Nil means favorites only.
	Names func(uri string) string
	// Refresh, when it delivers, makes the tray rebuild its menu from fresh snapshots, e.g. after
	// the contacts behind Favorites and Names were reloaded. Nil never does.
	Refresh <-chan struct{}
	// PrepareConfig runs before "Open config" opens ConfigPath, e.g. to create a commented default
	// file; nil does nothing.
	PrepareConfig func() error
}

// Notifications shows desktop notifications for the core's events without a tray icon (headless
// mode): incoming calls with Answer and Decline, missed calls, registration failures. names maps a
// remote URI to a display name and may be nil. It returns when ctx is done or the event stream
// closes.
func Notifications(ctx context.Context, ctl CallHandler, events <-chan phone.Event, names func(string) string, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := NewNotifier(ctl, names, log)
	defer n.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			n.Handle(ev)
		}
	}
}

// Available reports whether a tray host is there to show the icon: a StatusNotifierItem watcher
// (org.kde.StatusNotifierWatcher) on the session bus. On Linux fyne.io/systray speaks only
// StatusNotifierItem, so an XEmbed-only tray (an X11 _NET_SYSTEM_TRAY_S0 owner without a watcher)
// would show nothing and is deliberately not counted; when Available is false, run headless.
// On Windows the taskbar's notification area is always there (fyne.io/systray's Windows
// backend, no cgo).
func Available() bool {
	if runtime.GOOS == "windows" {
		return true
	}
	conn, err := privateSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}

// NamesFrom returns a function naming a remote URI: the name of the favorite with that address,
// else what fallback (may be nil) says, else "".
func NamesFrom(favs []Favorite, fallback func(string) string) func(string) string {
	byFav := favoriteNames(favs)
	return func(uri string) string {
		if n := byFav(uri); n != "" || fallback == nil {
			return n
		}
		return fallback(uri)
	}
}

// favoriteNames maps a remote URI to a favorite's name, ignoring "sip:" vs "sips:" and parameters.
func favoriteNames(favs []Favorite) func(string) string {
	m := map[string]string{}
	for _, f := range favs {
		m[userPart(f.URI)+"@"+hostPart(f.URI)] = f.Name
	}
	return func(uri string) string { return m[userPart(uri)+"@"+hostPart(uri)] }
}

func hostPart(uri string) string {
	s := uri
	for i, r := range s {
		if r == '@' {
			s = s[i+1:]
			for j, r := range s {
				if r == ';' || r == '>' || r == ':' {
					return s[:j]
				}
			}
			return s
		}
	}
	return ""
}
