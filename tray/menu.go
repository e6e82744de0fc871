//go:build !darwin || cgo

package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"time"

	"fyne.io/systray"

	"trayphone/assets"
	"trayphone/internal/phone"
)

// maxMessages is how many messages the Messages submenu lists.
const maxMessages = 10

// Pool sizes: fyne.io/systray cannot remove items cleanly, so the menu is a fixed pool of items that
// are shown, hidden and retitled from each snapshot.
const (
	maxAccounts  = 4
	maxFavorites = 20
	maxRecent    = 10
	// maxCalls is how many calls the tray lists (the core takes at most 4).
	maxCalls = 4
)

var keypadDigits = []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"}

// item caches what one systray item shows, so that a refresh only sends what changed.
type item struct {
	m                       *systray.MenuItem
	title                   string
	shown, checked, enabled bool
	onClick                 func()
}

func (i *item) set(title string, shown bool) {
	if shown && title != i.title {
		i.m.SetTitle(menuLabel(title))
		i.title = title
	}
	if shown != i.shown {
		if shown {
			i.m.Show()
		} else {
			i.m.Hide()
		}
		i.shown = shown
	}
}

func (i *item) check(on bool) {
	if on != i.checked {
		if on {
			i.m.Check()
		} else {
			i.m.Uncheck()
		}
		i.checked = on
	}
}

// trayUI is the running tray: the item pool and the latest state it was built from.
type trayUI struct {
	ctx   context.Context
	ctl   Controller
	opts  Options
	log   *slog.Logger
	notes *Notifier
	quit  func()
	cmds  sync.WaitGroup // commands started from the menu

	icon    assets.IconState
	badge   bool // the icon carries the message badge
	iconSet bool

	mu     sync.Mutex // guards the state below, read by click handlers
	cur    view
	favs   []Favorite
	names  func(string) string
	recent []phone.HistoryEntry

	items                                       []*item // every item, for clicks
	accounts                                    []*item
	callLine                                    *item
	calls                                       []callItems
	answer, decline, hangup, mute, hold, keypad *item
	record                                      *item
	xfer                                        *item   // "Transfer to" for the one call
	xferFavs                                    []*item // its favorites
	favMenu, favNone                            *item
	favItems                                    []*item
	recentMenu, recentNone                      *item
	recents                                     []*item
	blockMenu                                   *item
	blocks                                      []*item
	msgMenu, msgNone                            *item
	msgItems                                    []*item
	msgs                                        []phone.VoicemailMessage
	blockable                                   []string      // the callers "Block this caller" lists
	again                                       chan struct{} // a refresh is wanted (after a click)
	clip, dnd, echo, config                     *item
	forward                                     *item
	voicemail                                   *item // "Call voicemail" (MWI)
	// lastFwd is the latest call forwarding seen in force: "Forward calls" turns it off and on
	// again. The item is hidden until forwarding has been on (the config or the CLI).
	lastFwd phone.Forward
	clipCmd []string
}

func (t *trayUI) setFavorites(favs []Favorite) {
	t.mu.Lock()
	t.favs = favs
	t.names = favoriteNames(favs)
	t.mu.Unlock()
}

// name maps a remote URI to a favorite's name; safe from any goroutine.
func (t *trayUI) name(uri string) string {
	t.mu.Lock()
	names := t.names
	t.mu.Unlock()
	if n := names(uri); n != "" {
		return n
	}
	if t.opts.Names != nil {
		return t.opts.Names(uri)
	}
	return ""
}

func (t *trayUI) add(parent *item, title string, checkbox bool, onClick func()) *item {
	var m *systray.MenuItem
	switch {
	case parent == nil && checkbox:
		m = systray.AddMenuItemCheckbox(menuLabel(title), "", false)
	case parent == nil:
		m = systray.AddMenuItem(menuLabel(title), "")
	case checkbox:
		m = parent.m.AddSubMenuItemCheckbox(menuLabel(title), "", false)
	default:
		m = parent.m.AddSubMenuItem(menuLabel(title), "")
	}
	it := &item{m: m, title: title, shown: true, enabled: true, onClick: onClick}
	if onClick == nil {
		m.Disable()
		it.enabled = false
	}
	t.items = append(t.items, it)
	return it
}

// callItems is one call's submenu in the tray's list of calls: its actions, "Transfer to" with
// the favorites (blind), and "Transfer to call N" for each other answered call (attended).
type callItems struct {
	menu, swap, hold, answer, record, end *item
	xfer                                  *item   // the "Transfer to" submenu
	xferFavs                              []*item // its favorites, in the Favorites menu's order
	xferCalls                             []*item // one per slot of the list of calls
}

// build creates the item pool once, in menu order.
func (t *trayUI) build() {
	for range maxAccounts {
		t.accounts = append(t.accounts, t.add(nil, "", false, nil))
	}
	t.callLine = t.add(nil, "", false, nil)
	for i := range maxCalls {
		menu := t.add(nil, "", false, func() {})
		ci := callItems{
			menu:   menu,
			swap:   t.add(menu, "Swap to this call", false, t.listed(i, "swap", t.ctl.Resume)),
			hold:   t.add(menu, "Hold", false, t.listed(i, "hold", t.ctl.Hold)),
			answer: t.add(menu, "Answer", false, t.listed(i, "answer", t.ctl.Answer)),
			record: t.add(menu, "Record", false, t.listed(i, "record", t.toggleRecord)),
			end:    t.add(menu, "Hang up", false, t.listed(i, "hang up", t.ctl.Hangup)),
		}
		for j := range maxCalls {
			ci.xferCalls = append(ci.xferCalls, t.add(menu, "", false, t.transferToCall(i, j)))
		}
		ci.xfer = t.add(menu, "Transfer to", false, func() {})
		for j := range maxFavorites {
			ci.xferFavs = append(ci.xferFavs, t.add(ci.xfer, "", false, t.transferToFavorite(i, j)))
		}
		t.calls = append(t.calls, ci)
	}
	systray.AddSeparator()

	t.answer = t.add(nil, "Answer", false, t.onAnswer)
	t.decline = t.add(nil, "Decline", false, t.onDecline)
	t.hangup = t.add(nil, "Hang up", false, t.withCall("hang up", t.ctl.Hangup))
	t.mute = t.add(nil, "Mute", true, t.onMute)
	t.hold = t.add(nil, "Hold", true, t.onHold)
	t.record = t.add(nil, "Record", true, t.withCall("record", t.toggleRecord))
	t.keypad = t.add(nil, "Keypad", false, func() {})
	for _, d := range keypadDigits {
		t.add(t.keypad, d, false, t.withCall("send DTMF "+d, func(ctx context.Context, id string) error {
			return t.ctl.SendDTMF(ctx, id, d)
		}))
	}
	t.xfer = t.add(nil, "Transfer to", false, func() {})
	for j := range maxFavorites {
		t.xferFavs = append(t.xferFavs, t.add(t.xfer, "", false, func() {
			t.mu.Lock()
			var uri string
			if j < len(t.favs) {
				uri = t.favs[j].URI
			}
			t.mu.Unlock()
			if uri != "" {
				t.withCall("transfer", func(ctx context.Context, id string) error { return t.ctl.Transfer(ctx, id, uri, "") })()
			}
		}))
	}
	systray.AddSeparator()

	t.favMenu = t.add(nil, "Favorites", false, func() {})
	t.favNone = t.add(t.favMenu, "No favorites", false, nil)
	for i := range maxFavorites {
		t.favItems = append(t.favItems, t.add(t.favMenu, "", false, func() {
			t.mu.Lock()
			var uri string
			if i < len(t.favs) {
				uri = t.favs[i].URI
			}
			t.mu.Unlock()
			t.dial(uri)
		}))
	}
	t.recentMenu = t.add(nil, "Recent calls", false, func() {})
	t.recentNone = t.add(t.recentMenu, "No recent calls", false, nil)
	for i := range maxRecent {
		t.recents = append(t.recents, t.add(t.recentMenu, "", false, func() {
			t.mu.Lock()
			var uri string
			if i < len(t.recent) {
				uri = t.recent[i].Remote
			}
			t.mu.Unlock()
			t.dial(uri)
		}))
	}
	// "Block this caller": one line per recent call (voicemail.go).
	t.blockMenu = t.add(t.recentMenu, "Block this caller", false, func() {})
	for i := range maxRecent {
		t.blocks = append(t.blocks, t.add(t.blockMenu, "", false, func() {
			t.mu.Lock()
			var uri string
			if i < len(t.blockable) {
				uri = t.blockable[i]
			}
			t.mu.Unlock()
			if vm, ok := t.ctl.(Voicemail); ok && uri != "" {
				t.do("block "+uri, func(ctx context.Context) error { return vm.Block(ctx, uri) })
			}
		}))
	}
	t.msgMenu = t.add(nil, "Messages", false, func() {})
	t.msgNone = t.add(t.msgMenu, "No messages", false, nil)
	for i := range maxMessages {
		t.msgItems = append(t.msgItems, t.add(t.msgMenu, "", false, func() {
			t.mu.Lock()
			var id string
			if i < len(t.msgs) {
				id = t.msgs[i].ID
			}
			t.mu.Unlock()
			if vm, ok := t.ctl.(Voicemail); ok && id != "" {
				t.do("play message "+id, func(ctx context.Context) error {
					err := vm.PlayMessage(ctx, id)
					select {
					case t.again <- struct{}{}: // the message is no longer new
					default:
					}
					return err
				})
			}
		}))
	}
	t.voicemail = t.add(nil, "Call voicemail", false, func() {
		t.mu.Lock()
		uri := t.cur.vm.URI
		t.mu.Unlock()
		t.dial(uri)
	})
	t.clipCmd = clipboardCommand()
	t.clip = t.add(nil, "Dial clipboard", false, t.onClipboard)
	systray.AddSeparator()

	t.dnd = t.add(nil, "Do not disturb", true, t.onDND)
	t.forward = t.add(nil, "Forward calls", true, t.onForward)
	t.echo = t.add(nil, "Echo test", false, func() { t.dial(t.opts.EchoTestURI) })
	t.config = t.add(nil, "Open config", false, t.onConfig)
	systray.AddSeparator()
	t.add(nil, "Quit", false, func() { t.quit() })
}

// refresh rebuilds the tray from a fresh snapshot.
func (t *trayUI) refresh() {
	t.setFavorites(t.ctl.Favorites())
	recent := t.ctl.Recent()
	v := buildView(t.ctl.Status(), time.Now(), t.name)
	unseen := 0
	for _, e := range recent {
		if e.Unseen {
			unseen++
		}
	}
	if len(recent) > maxRecent {
		recent = recent[:maxRecent]
	}
	var msgs []phone.VoicemailMessage
	if vm, ok := t.ctl.(Voicemail); ok {
		msgs = vm.Messages()
	}
	blockable := callersOf(recent)
	t.mu.Lock()
	t.cur = v
	t.recent = recent
	t.msgs = msgs
	t.blockable = blockable
	favs := t.favs
	t.mu.Unlock()
	t.applyTray(v)
	t.apply(v, favs, recent, unseen)
	t.applyVoicemail(blockable, msgs)
}

// applyVoicemail shows "Block this caller" and the Messages submenu (voicemail.go). Loop
// goroutine only, like apply.
func (t *trayUI) applyVoicemail(callers []string, msgs []phone.VoicemailMessage) {
	_, has := t.ctl.(Voicemail)
	t.blockMenu.set("Block this caller", has && len(callers) > 0)
	for i, it := range t.blocks {
		if has && i < len(callers) {
			it.set(blockLabel(callers[i], t.name), true)
		} else {
			it.set("", false)
		}
	}
	t.msgMenu.set(messagesTitle(msgs), has)
	t.msgNone.set("No messages", has && len(msgs) == 0)
	for i, it := range t.msgItems {
		if has && i < len(msgs) {
			it.set(messageLabel(msgs[i], t.name), true)
		} else {
			it.set("", false)
		}
	}
}

// apply shows the view on the item pool. Only the loop goroutine (and onReady before it) calls it.
func (t *trayUI) apply(v view, favs []Favorite, recent []phone.HistoryEntry, unseen int) {
	for i, it := range t.accounts {
		switch {
		case i == maxAccounts-1 && len(v.accounts) > maxAccounts:
			it.set(fmt.Sprintf("… and %d more accounts", len(v.accounts)-i), true)
		case i < len(v.accounts):
			it.set(v.accounts[i], true)
		default:
			it.set("", false)
		}
	}
	t.callLine.set(v.callLine, v.callLine != "")
	for i, ci := range t.calls {
		if i >= len(v.calls) {
			ci.menu.set("", false)
			continue
		}
		c := v.calls[i]
		a := actionsFor(c)
		ci.menu.set(callTitle(c, t.name), true)
		ci.swap.set("Swap to this call", a.swap)
		ci.hold.set("Hold", a.hold)
		ci.answer.set("Answer", a.answer)
		ci.record.set(recordLabel(c), c.State == phone.CallActive || c.State == phone.CallHeld)
		ci.end.set(a.end, a.end != "")
		ci.xfer.set("Transfer to", a.transfer && len(favs) > 0)
		for j, it := range ci.xferFavs {
			if j < len(favs) && a.transfer {
				it.set(favoriteTitle(favs[j]), true)
			} else {
				it.set("", false)
			}
		}
		for j, it := range ci.xferCalls {
			if j != i && j < len(v.calls) && a.transfer && actionsFor(v.calls[j]).transfer {
				o := v.calls[j]
				it.set(fmt.Sprintf("Transfer to call %s: %s (attended)", o.ID, displayName(o, t.name)), true)
			} else {
				it.set("", false)
			}
		}
	}

	t.answer.set("Answer", v.incoming != nil)
	t.decline.set("Decline", v.incoming != nil)
	c := v.current
	answered := c != nil && (c.State == phone.CallActive || c.State == phone.CallHeld)
	hangup := "Hang up"
	if c != nil && !answered {
		hangup = "Cancel call"
	}
	t.hangup.set(hangup, c != nil)
	t.mute.set("Mute", answered)
	t.mute.check(answered && c.Muted)
	t.hold.set("Hold", answered)
	t.hold.check(answered && c.LocalHold)
	t.record.set("Record", answered)
	t.record.check(answered && c.Recording != "")
	t.keypad.set("Keypad", answered)
	// With two or more calls, each call's submenu has its own Transfer to.
	oneXfer := answered && len(v.calls) == 0 && len(favs) > 0
	t.xfer.set("Transfer to", oneXfer)
	for j, it := range t.xferFavs {
		if oneXfer && j < len(favs) {
			it.set(favoriteTitle(favs[j]), true)
		} else {
			it.set("", false)
		}
	}

	t.favNone.set("No favorites", len(favs) == 0)
	for i, it := range t.favItems {
		if i < len(favs) {
			it.set(favoriteLabel(favs[i], v.lines), true)
		} else {
			it.set("", false)
		}
	}
	t.recentMenu.set(recentTitle(unseen), true)
	t.recentNone.set("No recent calls", len(recent) == 0)
	for i, it := range t.recents {
		if i < len(recent) {
			it.set(recentLabel(recent[i], t.name), true)
		} else {
			it.set("", false)
		}
	}
	t.voicemail.set(v.vm.label(), v.vm.URI != "")
	t.clip.set("Dial clipboard", t.clipCmd != nil)
	t.dnd.set("Do not disturb", true)
	t.dnd.check(v.dnd)
	t.mu.Lock()
	if v.forward != nil {
		t.lastFwd = *v.forward
	}
	fwd := t.lastFwd
	t.mu.Unlock()
	t.forward.set("Forward calls ("+fwd.String()+")", fwd.Mode != "" && fwd.Mode != phone.ForwardOff)
	t.forward.check(v.forward != nil)
	t.echo.set("Echo test", t.opts.EchoTestURI != "")
	t.config.set("Open config", t.opts.ConfigPath != "")
}

// loop consumes the core's events and Options.Refresh and keeps the tray current, ticking once a
// second during a call for its duration. It returns when ctx is done, or when the event channel
// closes (the core has stopped), in which case it also ends Run.
func (t *trayUI) loop() {
	events, unsubscribe := t.ctl.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// fyne.io/systray v1.12.2 can lose the icon set around its D-Bus export: set it once more.
	again := time.NewTimer(time.Second)
	defer again.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-again.C:
			t.iconSet = false
			t.refresh()
		case <-t.opts.Refresh:
			t.refresh()
		case <-t.again:
			t.refresh()
		case ev, ok := <-events:
			if !ok {
				t.log.Info("core event stream closed, leaving the tray")
				t.quit()
				return
			}
			t.notes.Handle(ev)
			t.refresh()
		case <-systray.TrayOpenedCh:
			// The user sees the unseen missed calls now: they are marked until the next refresh.
			t.ctl.MarkMissedSeen()
		case <-tick.C:
			t.mu.Lock()
			busy := t.cur.current != nil || t.cur.incoming != nil
			t.mu.Unlock()
			if busy {
				t.refresh()
			}
		}
	}
}

// clicks waits for clicks on any item and runs its handler; it returns when ctx is done.
// fyne.io/systray drops a click when nobody is receiving, so one goroutine always is.
func (t *trayUI) clicks() {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t.ctx.Done())}}
	for _, it := range t.items {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(it.m.ClickedCh)})
	}
	for {
		i, _, _ := reflect.Select(cases)
		if i == 0 {
			return
		}
		if h := t.items[i-1].onClick; h != nil {
			h()
		}
	}
}

// do runs a command in the background, bounded by commandTimeout, and logs its failure.
func (t *trayUI) do(what string, cmd func(ctx context.Context) error) {
	t.cmds.Add(1)
	go func() {
		defer t.cmds.Done()
		ctx, cancel := context.WithTimeout(t.ctx, commandTimeout)
		defer cancel()
		if err := cmd(ctx); err != nil && t.ctx.Err() == nil {
			t.log.Warn("tray command failed", "command", what, "err", err)
		}
	}()
}

func (t *trayUI) dial(uri string) {
	if uri == "" {
		return
	}
	t.do("call "+uri, func(ctx context.Context) error { return t.ctl.Call(ctx, uri) })
}

// withCall returns a handler running cmd on the current call.
func (t *trayUI) withCall(what string, cmd func(ctx context.Context, id string) error) func() {
	return func() {
		t.mu.Lock()
		c := t.cur.current
		t.mu.Unlock()
		if c == nil {
			t.log.Warn("tray command failed", "command", what, "err", errNoCall)
			return
		}
		id := c.ID
		t.do(what, func(ctx context.Context) error { return cmd(ctx, id) })
	}
}

// transferToFavorite returns a handler transferring the i-th call of the tray's list to the j-th
// favorite (blind).
func (t *trayUI) transferToFavorite(i, j int) func() {
	return func() {
		t.mu.Lock()
		var id, uri string
		if i < len(t.cur.calls) && j < len(t.favs) {
			id, uri = t.cur.calls[i].ID, t.favs[j].URI
		}
		t.mu.Unlock()
		if id == "" || uri == "" {
			t.log.Warn("tray command failed", "command", "transfer", "err", errNoCall)
			return
		}
		t.do("transfer call "+id, func(ctx context.Context) error { return t.ctl.Transfer(ctx, id, uri, "") })
	}
}

// transferToCall returns a handler transferring the i-th call of the tray's list to the far end
// of the j-th (attended: the j-th call is replaced).
func (t *trayUI) transferToCall(i, j int) func() {
	return func() {
		t.mu.Lock()
		var id, to string
		if i < len(t.cur.calls) && j < len(t.cur.calls) {
			id, to = t.cur.calls[i].ID, t.cur.calls[j].ID
		}
		t.mu.Unlock()
		if id == "" || to == "" {
			t.log.Warn("tray command failed", "command", "transfer", "err", errNoCall)
			return
		}
		t.do("transfer call "+id, func(ctx context.Context) error { return t.ctl.Transfer(ctx, id, "", to) })
	}
}

// favoriteTitle is how a favorite is shown in the menus.
func favoriteTitle(f Favorite) string {
	if f.Name == "" {
		return f.URI
	}
	return f.Name
}

// listed returns a handler running cmd on the i-th call of the tray's list of calls.
func (t *trayUI) listed(i int, what string, cmd func(ctx context.Context, id string) error) func() {
	return func() {
		t.mu.Lock()
		var id string
		if i < len(t.cur.calls) {
			id = t.cur.calls[i].ID
			if what == "hang up" && t.cur.calls[i].State == phone.CallIncoming {
				t.notes.Declined(id)
			}
		}
		t.mu.Unlock()
		if id == "" {
			t.log.Warn("tray command failed", "command", what, "err", errNoCall)
			return
		}
		t.do(what+" call "+id, func(ctx context.Context) error { return cmd(ctx, id) })
	}
}

func (t *trayUI) onAnswer() {
	t.mu.Lock()
	c := t.cur.incoming
	t.mu.Unlock()
	if c != nil {
		id := c.ID
		t.do("answer", func(ctx context.Context) error { return t.ctl.Answer(ctx, id) })
	}
}

func (t *trayUI) onDecline() {
	t.mu.Lock()
	c := t.cur.incoming
	t.mu.Unlock()
	if c != nil {
		id := c.ID
		t.notes.Declined(id)
		t.do("decline", func(ctx context.Context) error { return t.ctl.Hangup(ctx, id) })
	}
}

// recordLabel is the record item of call c's submenu: what clicking it does.
func recordLabel(c phone.CallInfo) string {
	if c.Recording != "" {
		return "Stop recording"
	}
	return "Record"
}

// toggleRecord starts recording call id, or stops it if it is being recorded (by the latest
// snapshot the tray has).
func (t *trayUI) toggleRecord(ctx context.Context, id string) error {
	t.mu.Lock()
	on := true
	for _, c := range t.cur.calls {
		if c.ID == id {
			on = c.Recording == ""
		}
	}
	if c := t.cur.current; c != nil && c.ID == id {
		on = c.Recording == ""
	}
	t.mu.Unlock()
	return t.ctl.Record(ctx, id, on)
}

func (t *trayUI) onMute() {
	t.mu.Lock()
	c := t.cur.current
	t.mu.Unlock()
	if c != nil {
		id, on := c.ID, !c.Muted
		t.do("mute", func(ctx context.Context) error { return t.ctl.Mute(ctx, id, on) })
	}
}

func (t *trayUI) onHold() {
	t.mu.Lock()
	c := t.cur.current
	t.mu.Unlock()
	if c == nil {
		return
	}
	id := c.ID
	if c.LocalHold {
		t.do("resume", func(ctx context.Context) error { return t.ctl.Resume(ctx, id) })
	} else {
		t.do("hold", func(ctx context.Context) error { return t.ctl.Hold(ctx, id) })
	}
}

func (t *trayUI) onDND() {
	t.mu.Lock()
	on := !t.cur.dnd
	t.mu.Unlock()
	t.do("do not disturb", func(ctx context.Context) error { return t.ctl.SetDND(ctx, on) })
}

// onForward turns call forwarding off, or back on as it was last (or as the config says).
func (t *trayUI) onForward() {
	t.mu.Lock()
	f := t.lastFwd
	if t.cur.forward != nil {
		f = phone.Forward{Mode: phone.ForwardOff}
	}
	t.mu.Unlock()
	t.do("forward calls", func(ctx context.Context) error { return t.ctl.SetForward(ctx, f) })
}

func (t *trayUI) onClipboard() {
	if t.clipCmd == nil {
		return
	}
	t.do("dial clipboard", func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, t.clipCmd[0], t.clipCmd[1:]...).Output()
		if err != nil {
			return fmt.Errorf("read clipboard: %w", err)
		}
		target, ok := dialable(string(out))
		if !ok {
			return fmt.Errorf("clipboard holds no number or SIP address")
		}
		return t.ctl.Call(ctx, target)
	})
}

func (t *trayUI) onConfig() {
	if t.opts.ConfigPath == "" {
		return
	}
	if t.opts.PrepareConfig != nil {
		if err := t.opts.PrepareConfig(); err != nil {
			t.log.Warn("open config", "path", t.opts.ConfigPath, "err", err)
			return
		}
	}
	cmd := exec.Command("xdg-open", t.opts.ConfigPath)
	if err := cmd.Start(); err != nil {
		t.log.Warn("open config", "path", t.opts.ConfigPath, "err", err)
		return
	}
	// xdg-open returns once the editor is started; reap it.
	go func() { _ = cmd.Wait() }()
}

// clipboardCommand returns the command that prints the clipboard, or nil when there is none.
func clipboardCommand() []string {
	if os.Getenv("WAYLAND_DISPLAY") != "" {
		if p, err := exec.LookPath("wl-paste"); err == nil {
			return []string{p, "--no-newline"}
		}
	}
	if os.Getenv("DISPLAY") != "" {
		if p, err := exec.LookPath("xclip"); err == nil {
			return []string{p, "-selection", "clipboard", "-out"}
		}
	}
	return nil
}

// commandTimeout bounds one command started from the menu.
const commandTimeout = 10 * time.Second

// errNoCall is returned by menu commands that need a call when there is none.
var errNoCall = errors.New("no call")

// recentLabel is the Recent calls menu line for one call.
func recentLabel(e phone.HistoryEntry, names func(string) string) string {
	name := displayName(phone.CallInfo{Remote: e.Remote, RemoteName: e.Name}, names)
	switch {
	case e.Direction == phone.Incoming && e.Result == phone.ResultMissed && e.Unseen:
		return name + " — missed (new)"
	case e.Direction == phone.Incoming && e.Result == phone.ResultMissed:
		return name + " — missed"
	case e.Direction == phone.Incoming:
		return name + " — incoming"
	default:
		return name + " — outgoing"
	}
}

// recentTitle is the Recent calls submenu's title, with how many missed calls are new.
func recentTitle(unseen int) string {
	if unseen == 0 {
		return "Recent calls"
	}
	return fmt.Sprintf("Recent calls (%d new missed)", unseen)
}

// callActions are the items of one call's submenu that apply to it in its state: Swap to this
// call (a call held here: resume it, holding the others), Hold (a call the user hears), Answer
// (ringing here: the others go on hold), Transfer (an answered call) and the way to end it.
type callActions struct {
	swap, hold, answer, transfer bool
	end                          string // "Hang up", "Decline" or "Cancel call"
}

func actionsFor(c phone.CallInfo) callActions {
	switch c.State {
	case phone.CallIncoming:
		return callActions{answer: true, end: "Decline"}
	case phone.CallDialing, phone.CallRinging:
		return callActions{end: "Cancel call"}
	case phone.CallActive, phone.CallHeld:
		return callActions{swap: c.LocalHold, hold: !c.LocalHold, transfer: true, end: "Hang up"}
	}
	return callActions{}
}

// menuLabel escapes a label for com.canonical.dbusmenu, where "_" marks an access key.
func menuLabel(s string) string { return strings.ReplaceAll(s, "_", "__") }
