package main

import (
	"context"
	"log/slog"

	"trayphone/control"
	"trayphone/internal/config"
	"trayphone/internal/phone"
	"trayphone/nat"
)

// natCore adds what nat found to the core's status for the control socket.
type natCore struct {
	control.Core
	svc *nat.Service
}

func (c natCore) Status() phone.Status {
	st := c.Core.Status()
	st.NAT = c.svc.Info()
	return st
}

// setupNAT prepares the NAT service and network monitor when the config names a STUN server. It
// returns the core to hand to the control socket (with NAT status added) and a function that starts
// them; their goroutines return when that function's ctx is done. onChange runs after each network
// change or wake-up (re-register, re-INVITE).
func setupNAT(cfg *config.Config, core control.Core, onChange func(nat.Change), log *slog.Logger) (control.Core, func(context.Context)) {
	if cfg.STUN == "" {
		return core, func(context.Context) {}
	}
	log = log.With("component", "nat")
	cfgs := nat.ServiceConfig{STUN: cfg.STUN, OnChange: onChange, Log: log}
	mon, err := nat.NewMonitor()
	if err != nil {
		log.Warn("network changes will not be noticed", "err", err)
	} else {
		cfgs.Watcher = mon
	}
	svc := nat.NewService(cfgs)
	return natCore{Core: core, svc: svc}, func(ctx context.Context) {
		if mon != nil {
			go func() { _ = mon.Run(ctx) }()
		}
		go func() { _ = svc.Run(ctx) }()
	}
}
