//go:build !darwin || cgo

package tray

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"fyne.io/systray"

	"trayphone/assets"
)

// Run shows the tray icon and menu and blocks until the user picks Quit or ctx is done; then it
// removes the icon, waits for its goroutines and returns nil (the caller shuts the core down).
//
// Run must be called on the main goroutine: fyne.io/systray locks the main OS thread in its init and
// runs its native loop there. It can be called once per process.
func Run(ctx context.Context, ctl Controller, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.IconSize == 0 {
		opts.IconSize = 64
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	t := &trayUI{ctx: ctx, ctl: ctl, opts: opts, log: log, again: make(chan struct{}, 1)}
	t.setFavorites(ctl.Favorites())
	t.notes = NewNotifier(ctl, t.name, log.With("component", "notify"))
	defer t.notes.Close()

	// fyne.io/systray v1.12.2 loses an icon set only inside onReady (a race with its D-Bus export),
	// so the first state is applied here, before Run, and again once ready.
	first := buildView(ctl.Status(), time.Now(), t.name)
	t.applyTray(first)

	var wg sync.WaitGroup
	onReady := func() {
		t.build()
		t.refresh()
		wg.Add(2)
		go func() { defer wg.Done(); t.clicks() }()
		go func() { defer wg.Done(); t.loop() }()
		// Runs until ctx is done (Quit or the caller), then waits for the goroutines that update
		// the icon and menu: fyne.io/systray closes its D-Bus connection on Quit and panics on an
		// icon set after that. Then the native loop ends.
		go func() { <-ctx.Done(); wg.Wait(); systray.Quit() }()
	}
	t.quit = cancel
	systray.Run(onReady, nil)
	cancel()
	wg.Wait()
	t.cmds.Wait()
	return nil
}

// trayIcon returns the icon for state in the form this system's tray takes.
func trayIcon(state assets.IconState, size int) []byte { return trayIconFor(runtime.GOOS, state, size) }

// applyTray sets the icon, title and tooltip.
func (t *trayUI) applyTray(v view) {
	if t.icon != v.icon || !t.iconSet {
		systray.SetIcon(trayIcon(v.icon, t.opts.IconSize))
		t.icon, t.iconSet = v.icon, true
	}
	systray.SetTitle(appName)
	systray.SetTooltip(v.tooltip)
}
