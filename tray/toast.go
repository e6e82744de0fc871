package tray

import (
	"strings"

	"trayphone/internal/phone"
)

// On Windows an incoming call is a toast notification with Answer and Decline buttons
// (toast_windows.go). Each button carries an activation argument naming the action and the call
// ("answer:c3"); Windows hands it back to the running phone, which runs the action only while
// that call is still ringing here. Elsewhere there is no toast and newToaster returns nil.

// toastNote is what an incoming call's toast shows, and the arguments its buttons return.
type toastNote struct {
	Title, Body     string
	Answer, Decline string // activation arguments
}

// toaster shows toasts. Activations come back through the callback given to newToaster.
type toaster interface {
	show(toastNote) error
}

// toastArgs is the activation argument of button key for call id.
func toastArgs(key, id string) string { return key + ":" + id }

// parseToastArgs splits an activation argument made by toastArgs; ok is false for anything else.
func parseToastArgs(s string) (key, id string, ok bool) {
	key, id, ok = strings.Cut(s, ":")
	if !ok || id == "" || (key != actionAnswer && key != actionDecline) {
		return "", "", false
	}
	return key, id, true
}

// toastIncoming shows call c's toast; false when there is no toaster or it failed.
func (n *Notifier) toastIncoming(c phone.CallInfo) bool {
	if n.toast == nil {
		return false
	}
	title := "Incoming call"
	if encrypted(c) {
		title = "🔒 Incoming call (encrypted)"
	}
	err := n.toast.show(toastNote{
		Title:   title,
		Body:    displayName(c, n.names) + "\n" + c.Remote,
		Answer:  toastArgs(actionAnswer, c.ID),
		Decline: toastArgs(actionDecline, c.ID),
	})
	if err != nil {
		n.log.Warn("incoming call toast", "call_id", c.ID, "err", err)
		return false
	}
	return true
}

// onToast runs a toast button's action. It may be called from any goroutine (Windows calls back
// on a COM thread) and returns at once. Arguments that are not ours, and buttons of calls that
// no longer ring, are ignored.
func (n *Notifier) onToast(args string) {
	key, id, ok := parseToastArgs(args)
	if !ok {
		n.log.Debug("toast activation ignored", "args", args)
		return
	}
	n.mu.Lock()
	ringing := n.seen[id]
	if ringing && key == actionDecline {
		n.declined[id] = true
	}
	n.mu.Unlock()
	if ringing {
		n.run(id, key)
	}
}
