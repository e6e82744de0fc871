package tray

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/esiqveland/notify"
	"github.com/godbus/dbus/v5"
)

// ErrNoConfirm is returned by ConfirmCall when no notification server with buttons is there to
// ask the user.
var ErrNoConfirm = errors.New("no notification server with buttons to confirm the call")

// confirmTimeout is how long a link's confirmation waits for the user.
const confirmTimeout = 2 * time.Minute

// Action keys of the link confirmation.
const (
	actionCall   = "call"
	actionCancel = "cancel"
)

// ConfirmCall asks the user, with a notification that has Call and Cancel buttons, whether to
// call target, which a clicked sip:/tel: link asked for. It reports true only when Call was
// pressed; Cancel, closing the notification, two minutes without an answer or ctx ending say
// false. Without a notification server that has buttons it returns ErrNoConfirm.
func ConfirmCall(ctx context.Context, target, name string, log *slog.Logger) (bool, error) {
	conn, err := privateSessionBus()
	if err != nil {
		return false, ErrNoConfirm
	}
	defer conn.Close()
	return confirmCall(ctx, conn, target, name, log)
}

func confirmCall(ctx context.Context, conn *dbus.Conn, target, name string, log *slog.Logger) (bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	type answer struct {
		id  uint32
		key string // "" for closed
	}
	answers := make(chan answer, 8)
	fd, err := notify.New(conn,
		notify.WithOnAction(func(s *notify.ActionInvokedSignal) {
			select {
			case answers <- answer{s.ID, s.ActionKey}:
			default:
			}
		}),
		notify.WithOnClosed(func(s *notify.NotificationClosedSignal) {
			select {
			case answers <- answer{id: s.ID}:
			default:
			}
		}),
		notify.WithLogger(debugLogger{log}))
	if err != nil {
		return false, ErrNoConfirm
	}
	defer fd.Close()
	caps, err := fd.GetCapabilities()
	if err != nil || !slices.Contains(caps, "actions") {
		return false, ErrNoConfirm
	}
	body := "A link asks trayphone to call " + target + "."
	if name != "" {
		body = "A link asks trayphone to call " + name + " (" + target + ")."
	}
	if slices.Contains(caps, "body-markup") {
		body = escapeMarkup(body)
	}
	note := notify.Notification{
		AppName: appName, AppIcon: "call-start",
		Summary: "Call " + target + "?",
		Body:    body,
		Actions: []notify.Action{{Key: actionCall, Label: "Call"}, {Key: actionCancel, Label: "Cancel"}},
		Hints:   map[string]dbus.Variant{"category": dbus.MakeVariant("call"), "resident": dbus.MakeVariant(true)},
		// The phone closes it after confirmTimeout.
		ExpireTimeout: notify.ExpireTimeoutNever,
	}
	id, err := fd.SendNotification(note)
	if err != nil {
		return false, ErrNoConfirm
	}
	t := time.NewTimer(confirmTimeout)
	defer t.Stop()
	// Ends with the user's answer, the timeout or ctx.
	for {
		select {
		case a := <-answers:
			if a.id != id {
				continue
			}
			return a.key == actionCall, nil
		case <-t.C:
			_, _ = fd.CloseNotification(id)
			return false, nil
		case <-ctx.Done():
			_, _ = fd.CloseNotification(id)
			return false, nil
		}
	}
}
