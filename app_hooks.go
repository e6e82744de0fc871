package main

import (
	"context"
	"log/slog"
	"time"

	"trayphone/callmgr"
	"trayphone/internal/config"
	"trayphone/internal/hooks"
)

// startHooks runs the [hooks] programs on the manager's events until ctx is done; the returned
// function waits for the runner (hooks still running are killed) at most a few seconds. With no
// hook configured nothing runs.
func startHooks(ctx context.Context, cfg *config.Config, mgr *callmgr.Manager, log *slog.Logger) (wait func()) {
	cmds := map[string][]string{}
	for _, ev := range config.HookEvents {
		if argv := cfg.Hooks.Command(ev); len(argv) > 0 {
			cmds[ev] = argv
		}
	}
	r := hooks.New(hooks.Config{Commands: cmds, Timeout: time.Duration(cfg.Hooks.Timeout) * time.Second}, log)
	if !r.Any() {
		return func() {}
	}
	events, unsubscribe := mgr.Subscribe()
	done := make(chan struct{})
	go func() {
		// Returns when ctx is done or the manager's event stream closes.
		defer close(done)
		defer unsubscribe()
		r.Serve(ctx, events)
	}()
	return func() {
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			log.Warn("hooks did not stop in time")
		}
	}
}
