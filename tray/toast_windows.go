//go:build windows

package tray

import (
	"log/slog"
	"sync"

	toast "git.sr.ht/~jackmordaunt/go-toast"
	"golang.org/x/sys/windows/registry"
)

// toastAppID names trayphone in the Action Center. toastGUID is the class of trayphone's
// activation callback (INotificationActivationCallback), which go-toast registers under
// HKEY_CURRENT_USER\Software\Classes\CLSID and serves in-process: a button pressed while the
// phone runs comes back to it without a separate COM server.
const (
	toastAppID = "trayphone"
	toastGUID  = "{6B0C1F2E-3A59-4E7B-9C1D-7A2F4E8B5D31}"
)

// toastCallback is the callback of the newest toaster: go-toast has one per process.
var (
	toastMu       sync.Mutex
	toastCallback func(string)
	toastOnce     sync.Once
)

// winToaster shows toasts through the Windows Runtime (go-toast, no cgo).
type winToaster struct{ log *slog.Logger }

// winRTClasses are the Windows Runtime classes a toast needs (Windows 8 and later have them).
var winRTClasses = []string{"Windows.UI.Notifications.ToastNotificationManager", "Windows.Data.Xml.Dom.XmlDocument"}

// toastsAvailable reports whether this Windows registers the classes toasts need. Without them
// (Wine 8.0) go-toast would fail only after registering its activation class with COM, and at
// exit Wine's COM releases that Go callback from the exiting thread: "fatal error: exitsyscall:
// syscall frame is no longer valid". So no toast, and no beeep (which uses go-toast), is tried.
func toastsAvailable() bool {
	for _, c := range winRTClasses {
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\WindowsRuntime\ActivatableClassId\`+c, registry.QUERY_VALUE)
		if err != nil {
			return false
		}
		k.Close()
	}
	return true
}

// newToaster returns the Windows toaster, or nil where toasts cannot be shown; activations call
// onAction with the button's argument.
func newToaster(onAction func(args string), log *slog.Logger) toaster {
	if !toastsAvailable() {
		log.Info("no toast notifications on this Windows (its Windows Runtime lacks them): answer from the tray menu or with trayphone answer")
		return nil
	}
	toastMu.Lock()
	toastCallback = onAction
	toastMu.Unlock()
	toastOnce.Do(func() {
		toast.SetActivationCallback(func(args string, _ []toast.UserData) {
			toastMu.Lock()
			cb := toastCallback
			toastMu.Unlock()
			if cb != nil {
				cb(args)
			}
		})
	})
	return winToaster{log: log}
}

// show pushes the toast: long-lived, silent (the ringtone rings), two buttons whose activation
// comes back to the running phone ("foreground" is go-toast's name for activating the app; for a
// desktop program Windows treats it as "background").
func (w winToaster) show(t toastNote) error {
	if err := toast.SetAppData(toast.AppData{AppID: toastAppID, GUID: toastGUID}); err != nil {
		return err
	}
	n := toast.Notification{
		AppID:          toastAppID,
		Title:          t.Title,
		Body:           t.Body,
		ActivationType: toast.Foreground,
		Duration:       toast.Long,
		Audio:          toast.Silent,
		Actions: []toast.Action{
			{Type: toast.Foreground, Content: "Answer", Arguments: t.Answer},
			{Type: toast.Foreground, Content: "Decline", Arguments: t.Decline},
		},
	}
	return n.Push()
}
