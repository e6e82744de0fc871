package tray

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/esiqveland/notify"
	"github.com/gen2brain/beeep"
	"github.com/godbus/dbus/v5"

	"trayphone/internal/phone"
)

// CallHandler is what a notification's Answer and Decline buttons need from the core.
type CallHandler interface {
	Answer(ctx context.Context, id string) error
	Hangup(ctx context.Context, id string) error
}

// Action keys of the incoming-call notification.
const (
	actionAnswer    = "answer"
	actionDecline   = "decline"
	actionVoicemail = "voicemail" // "Send to voicemail" (when the CallHandler is a Voicemail)
	actionPlay      = "play"      // on "New message from ...": play it
	actionCallBack  = "callback"  // on "New message from ...": call the caller
	// actionMute mutes a call that was answered automatically (the line-open notification).
	actionMute = "mute"
)

// muter is the part of the controller the line-open notification's Mute button needs; a
// CallHandler without it gets the notification without the button.
type muter interface {
	Mute(ctx context.Context, id string, on bool) error
}

// actionTimeout bounds one Answer or Hangup started from a notification button.
const actionTimeout = 10 * time.Second

// Notifier turns phone events into desktop notifications: an incoming call gets a critical
// notification with Answer and Decline buttons (freedesktop Notifications over D-Bus), closed again
// when the call stops ringing; a missed call leaves a "Missed call from …" notification; a
// registration failure is shown once per distinct failure. Where no notification server with actions
// exists it falls back to a plain beeep notification and the tray menu's Answer and Decline items.
//
// Handle is called from one goroutine; button presses arrive on the D-Bus connection's goroutine.
type Notifier struct {
	ctx    context.Context
	cancel context.CancelFunc
	ctl    CallHandler
	log    *slog.Logger
	names  func(string) string

	conn *dbus.Conn      // private session bus connection, nil when there is no bus
	fd   notify.Notifier // nil when conn is nil
	// toast shows incoming calls with buttons where D-Bus has no notification server (Windows
	// toasts, toast.go); nil elsewhere.
	toast toaster
	wg    sync.WaitGroup // button presses in flight

	mu       sync.Mutex
	byCall   map[string]uint32                 // ringing call ID → notification ID
	byNote   map[uint32]string                 // notification ID → ringing call ID
	seen     map[string]bool                   // incoming calls seen ringing, until they end
	declined map[string]bool                   // calls declined by the user here: not "missed"
	regFail  map[string]string                 // account ID → the failure last shown
	sending  int                               // incoming-call notifications sent whose ID is not known yet
	early    map[uint32]string                 // notification ID → action pressed before its ID was known
	messages map[uint32]phone.VoicemailMessage // "New message" notification ID → its message
	// lineOpen maps a call answered automatically to its "line open" notification, until the
	// call is muted or ends.
	lineOpen map[string]uint32
}

// NewNotifier connects to the session bus (a private connection, so that signals meant for the
// tray icon do not reach it) and returns a Notifier acting on ctl. names maps a remote URI to a
// display name (favorites, contacts) and may be nil. It never fails: without a session bus it uses
// beeep only. Close releases it.
func NewNotifier(ctl CallHandler, names func(string) string, log *slog.Logger) *Notifier {
	conn, err := privateSessionBus()
	if err != nil {
		log.Info("no session bus for notifications, using plain notifications", "err", err)
		conn = nil
	}
	return newNotifier(conn, ctl, names, log)
}

// privateSessionBus connects to the session bus without auto-launching one (godbus would otherwise
// run dbus-launch and leave a stray dbus-daemon behind on a machine without a desktop session).
func privateSessionBus() (*dbus.Conn, error) {
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return nil, err
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("session bus auth: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("session bus hello: %w", err)
	}
	return conn, nil
}

// newNotifier uses conn (owned by the Notifier from now on; nil for beeep only).
func newNotifier(conn *dbus.Conn, ctl CallHandler, names func(string) string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		ctx: ctx, cancel: cancel, ctl: ctl, log: log, names: names, conn: conn,
		byCall: map[string]uint32{}, byNote: map[uint32]string{},
		seen: map[string]bool{}, declined: map[string]bool{}, regFail: map[string]string{},
		early: map[uint32]string{}, messages: map[uint32]phone.VoicemailMessage{}, lineOpen: map[string]uint32{},
	}
	n.toast = newToaster(n.onToast, log)
	if conn != nil {
		fd, err := notify.New(conn,
			notify.WithOnAction(n.onAction),
			notify.WithLogger(debugLogger{log}))
		if err != nil {
			log.Info("notification signals unavailable, using plain notifications", "err", err)
			conn.Close()
			n.conn = nil
		} else {
			n.fd = fd
		}
	}
	return n
}

// Close stops listening for button presses, waits for those in flight and closes the connection.
func (n *Notifier) Close() error {
	n.cancel()
	var err error
	if n.fd != nil {
		err = n.fd.Close()
	}
	n.wg.Wait()
	if n.conn != nil {
		if cerr := n.conn.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Declined records that the user declined call id (from the tray menu), so its end is not "missed".
func (n *Notifier) Declined(id string) {
	n.mu.Lock()
	n.declined[id] = true
	n.mu.Unlock()
}

// Handle reacts to one core event.
func (n *Notifier) Handle(ev phone.Event) {
	switch {
	case ev.Type == phone.EventCall && ev.Call != nil:
		n.call(*ev.Call)
	case ev.Type == phone.EventAccount && ev.Account != nil:
		n.account(*ev.Account)
	case ev.Type == phone.EventVoicemail && ev.Voicemail != nil:
		n.message(*ev.Voicemail)
	}
}

// message shows "New message from ..." with Play and Call back.
func (n *Notifier) message(m phone.VoicemailMessage) {
	who := m.Name
	if n.names != nil {
		if name := n.names(m.From); name != "" {
			who = name
		}
	}
	if who == "" {
		who = m.From
	}
	body := fmt.Sprintf("%s\n%.0f s, %s", m.From, float64(m.Duration), m.Start.Local().Format("15:04"))
	caps := n.capabilities()
	_, vm := n.ctl.(Voicemail)
	if !vm || !slices.Contains(caps, "actions") {
		n.send(notify.Notification{AppName: appName, AppIcon: "mail-message-new", Summary: "New message from " + who, Body: body,
			ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer})
		return
	}
	if slices.Contains(caps, "body-markup") {
		body = escapeMarkup(body)
	}
	note := notify.Notification{
		AppName: appName, AppIcon: "mail-message-new",
		Summary: "New message from " + who,
		Body:    body,
		Actions: []notify.Action{{Key: actionPlay, Label: "Play"}, {Key: actionCallBack, Label: "Call back"}},
		Hints:   map[string]dbus.Variant{"category": dbus.MakeVariant("im.received")},
		// The server decides how long it stays.
		ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer,
	}
	n.mu.Lock()
	n.sending++
	n.mu.Unlock()
	id, err := n.fd.SendNotification(note)
	n.mu.Lock()
	n.sending--
	key, pressed := n.early[id]
	if n.sending == 0 {
		clear(n.early)
	}
	if err == nil {
		n.messages[id] = m
	}
	n.mu.Unlock()
	if err != nil {
		n.log.Warn("new message notification", "id", m.ID, "err", err)
		return
	}
	if pressed {
		n.act(id, key)
	}
}

func (n *Notifier) call(c phone.CallInfo) {
	n.lineOpenNote(c)
	n.mu.Lock()
	noteID, shown := n.byCall[c.ID]
	seen := n.seen[c.ID]
	n.mu.Unlock()

	if c.State == phone.CallIncoming {
		if seen {
			return
		}
		n.mu.Lock()
		n.seen[c.ID] = true
		n.mu.Unlock()
		n.incoming(c)
		return
	}
	if shown {
		n.mu.Lock()
		delete(n.byCall, c.ID)
		delete(n.byNote, noteID)
		n.mu.Unlock()
		if _, err := n.fd.CloseNotification(noteID); err != nil {
			n.log.Debug("close notification", "call_id", c.ID, "err", err)
		}
	}
	if c.State != phone.CallEnded {
		return
	}
	n.mu.Lock()
	isMissed := seen && missed(c, n.declined)
	delete(n.seen, c.ID)
	delete(n.declined, c.ID)
	n.mu.Unlock()
	if isMissed {
		n.send(notify.Notification{
			AppName: appName, AppIcon: "call-missed",
			Summary: "Missed call from " + displayName(c, n.names),
			Body:    c.Remote,
			Hints:   map[string]dbus.Variant{"category": dbus.MakeVariant("call.unanswered")},
			// The server decides how long a missed-call note stays.
			ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer,
		})
	}
}

// lineOpenNote tells the user that call c was answered without them (auto-answer, intercom):
// the microphone is on. The notification offers Mute where the server has buttons, and closes
// when the call is muted or ends.
func (n *Notifier) lineOpenNote(c phone.CallInfo) {
	n.mu.Lock()
	noteID, shown := n.lineOpen[c.ID]
	n.mu.Unlock()
	if shown {
		if c.Muted || c.State == phone.CallEnded {
			n.mu.Lock()
			delete(n.lineOpen, c.ID)
			delete(n.byNote, noteID)
			n.mu.Unlock()
			if n.fd != nil {
				_, _ = n.fd.CloseNotification(noteID)
			}
		}
		return
	}
	if !c.AutoAnswered || c.State != phone.CallActive || c.Muted {
		return
	}
	n.mu.Lock()
	n.lineOpen[c.ID] = 0 // shown once, even where it cannot be closed
	n.mu.Unlock()
	summary := "Line open: call answered automatically"
	body := displayName(c, n.names) + "\n" + c.Remote + "\nThe microphone is on."
	_, canMute := n.ctl.(muter)
	caps := n.capabilities()
	if !canMute || !slices.Contains(caps, "actions") {
		n.plain(summary, body+" Mute it from the trayphone menu or with: trayphone mute "+c.ID)
		return
	}
	if slices.Contains(caps, "body-markup") {
		body = escapeMarkup(body)
	}
	note := notify.Notification{
		AppName: appName, AppIcon: "audio-input-microphone",
		Summary: summary, Body: body,
		Actions:       []notify.Action{{Key: actionMute, Label: "Mute"}},
		Hints:         map[string]dbus.Variant{"category": dbus.MakeVariant("call"), "resident": dbus.MakeVariant(true)},
		ExpireTimeout: notify.ExpireTimeoutNever,
	}
	note.SetUrgency(notify.UrgencyCritical)
	id, err := n.fd.SendNotification(note)
	if err != nil {
		n.log.Warn("line open notification", "call_id", c.ID, "err", err)
		return
	}
	n.mu.Lock()
	n.lineOpen[c.ID] = id
	n.byNote[id] = c.ID
	n.mu.Unlock()
}

// incoming shows the ringing notification with Answer and Decline buttons.
func (n *Notifier) incoming(c phone.CallInfo) {
	caps := n.capabilities()
	if !slices.Contains(caps, "actions") {
		if n.toastIncoming(c) {
			return
		}
		// No buttons here: a plain notification, answered from the tray menu.
		n.plain(lock(c)+"Incoming call", callerLabel(c, n.names)+"\nAnswer from the trayphone menu.")
		return
	}
	body := displayName(c, n.names) + "\n" + c.Remote
	if slices.Contains(caps, "body-markup") {
		body = escapeMarkup(body)
	}
	summary := "Incoming call"
	if encrypted(c) {
		summary = "🔒 Incoming call (encrypted)"
	}
	if c.Silent {
		summary += " (silent)"
	}
	actions := []notify.Action{{Key: actionAnswer, Label: "Answer"}, {Key: actionDecline, Label: "Decline"}}
	if _, ok := n.ctl.(Voicemail); ok {
		actions = append(actions, notify.Action{Key: actionVoicemail, Label: "Send to voicemail"})
	}
	note := notify.Notification{
		AppName: appName, AppIcon: "call-start",
		Summary: summary,
		Body:    body,
		Actions: actions,
		Hints: map[string]dbus.Variant{
			"category": dbus.MakeVariant("call.incoming"),
			"resident": dbus.MakeVariant(true),
		},
		ExpireTimeout: notify.ExpireTimeoutNever,
	}
	note.SetUrgency(notify.UrgencyCritical)
	if c.Silent {
		// A screening rule's "silent": a quiet notification, no sound from the server either.
		note.SetUrgency(notify.UrgencyLow)
		note.Hints["suppress-sound"] = dbus.MakeVariant(true)
	}
	n.mu.Lock()
	n.sending++
	n.mu.Unlock()
	id, err := n.fd.SendNotification(note)
	n.mu.Lock()
	n.sending--
	key, pressed := n.early[id]
	if n.sending == 0 {
		clear(n.early)
	}
	if err == nil {
		n.byCall[c.ID] = id
		n.byNote[id] = c.ID
	}
	n.mu.Unlock()
	if err != nil {
		n.log.Warn("incoming call notification", "call_id", c.ID, "err", err)
		return
	}
	if pressed {
		// The button was pressed before the server's reply told us the notification's ID.
		n.act(id, key)
	}
}

func (n *Notifier) account(a phone.AccountInfo) {
	n.mu.Lock()
	last, failedBefore := n.regFail[a.ID]
	switch a.State {
	case phone.RegRegistered:
		delete(n.regFail, a.ID)
	case phone.RegFailed:
		n.regFail[a.ID] = a.Reason
	}
	n.mu.Unlock()
	if a.State != phone.RegFailed || (failedBefore && last == a.Reason) {
		return
	}
	body := a.Reason
	if body == "" {
		body = "The registrar did not accept the account."
	}
	n.send(notify.Notification{
		AppName: appName, AppIcon: "dialog-error",
		Summary: "Registration failed for " + a.AOR,
		Body:    body,
		Hints:   map[string]dbus.Variant{"category": dbus.MakeVariant("network.error")},
		// A failure stays until the user dismisses it.
		ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer,
	})
}

// send shows a notification without buttons through D-Bus, or beeep when there is no server.
func (n *Notifier) send(note notify.Notification) {
	caps := n.capabilities()
	if caps == nil {
		n.plain(note.Summary, note.Body)
		return
	}
	if slices.Contains(caps, "body-markup") {
		note.Body = escapeMarkup(note.Body)
	}
	if _, err := n.fd.SendNotification(note); err != nil {
		n.log.Warn("notification", "summary", note.Summary, "err", err)
	}
}

func (n *Notifier) plain(summary, body string) {
	if n.conn == nil && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		// On Linux and the BSDs beeep also needs the session bus, and would auto-launch one.
		n.log.Debug("no session bus: notification not shown", "summary", summary)
		return
	}
	if runtime.GOOS == "windows" && !toastsAvailable() {
		// beeep's toast would need what is missing (toast_windows.go).
		n.log.Debug("no toast notifications: notification not shown", "summary", summary)
		return
	}
	if err := beeep.Notify(summary, body, ""); err != nil {
		n.log.Debug("plain notification", "summary", summary, "err", err)
	}
}

// capabilities asks the notification server what it supports; nil when there is none. It is asked
// each time, since a server may start (or be D-Bus-activated) after trayphone.
func (n *Notifier) capabilities() []string {
	if n.fd == nil {
		return nil
	}
	caps, err := n.fd.GetCapabilities()
	if err != nil {
		n.log.Debug("no notification server", "err", err)
		return nil
	}
	if caps == nil {
		caps = []string{}
	}
	return caps
}

// onAction runs on the notifier's signal goroutine: it starts the command and returns at once.
func (n *Notifier) onAction(s *notify.ActionInvokedSignal) {
	n.mu.Lock()
	_, known := n.byNote[s.ID]
	if _, msg := n.messages[s.ID]; msg {
		known = true
	}
	if !known && n.sending > 0 {
		n.early[s.ID] = s.ActionKey
	}
	n.mu.Unlock()
	if known {
		n.act(s.ID, s.ActionKey)
	}
}

// act runs the action key pressed on notification note, if that note still belongs to a ringing
// call; it returns at once.
func (n *Notifier) act(note uint32, key string) {
	n.mu.Lock()
	id, ok := n.byNote[note]
	if ok && key == actionDecline {
		n.declined[id] = true
	}
	msg, isMsg := n.messages[note]
	n.mu.Unlock()
	if vm, hasVM := n.ctl.(Voicemail); isMsg && hasVM && n.ctx.Err() == nil {
		n.actOnMessage(vm, msg, key)
		return
	}
	if ok {
		n.run(id, key)
	}
}

// run starts action key (answer, decline or send to voicemail) on call id, unless the notifier
// is closed; it returns at once.
func (n *Notifier) run(id, key string) {
	if n.ctx.Err() != nil {
		return
	}
	vm, hasVM := n.ctl.(Voicemail)
	var do func(context.Context, string) error
	switch {
	case key == actionAnswer:
		do = n.ctl.Answer
	case key == actionDecline:
		do = n.ctl.Hangup
	case key == actionMute:
		m, ok := n.ctl.(muter)
		if !ok {
			return
		}
		do = func(ctx context.Context, id string) error { return m.Mute(ctx, id, true) }
	case key == actionVoicemail && hasVM:
		do = vm.SendToVoicemail
	default:
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, actionTimeout)
		defer cancel()
		if err := do(ctx, id); err != nil {
			n.log.Warn("notification action", "action", key, "call_id", id, "err", err)
		}
	}()
}

// actOnMessage runs Play or Call back for message msg in the background.
func (n *Notifier) actOnMessage(vm Voicemail, msg phone.VoicemailMessage, key string) {
	var do func(ctx context.Context) error
	switch key {
	case actionPlay:
		do = func(ctx context.Context) error { return vm.PlayMessage(ctx, msg.ID) }
	case actionCallBack:
		do = func(ctx context.Context) error { return vm.Call(ctx, msg.From) }
	default:
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, actionTimeout)
		defer cancel()
		if err := do(ctx); err != nil {
			n.log.Warn("notification action", "action", key, "message", msg.ID, "err", err)
		}
	}()
}

// escapeMarkup escapes text for a server with body-markup (a subset of HTML), which would
// otherwise swallow "<sip:bob@example.com>".
func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// debugLogger sends esiqveland/notify's chatter to slog at debug level.
type debugLogger struct{ log *slog.Logger }

func (l debugLogger) Printf(format string, v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "notify")
}
