package rt

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps: rt is the operating system's side of a media session, below media: the standard
// library and the clock, nothing else of the project and no third-party module.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/media", "trayphone/callmgr", "trayphone/account", "trayphone/nat",
		"trayphone/tray", "trayphone/control", "trayphone/internal/sipua", "github.com/", "golang.org/", "gopkg.in/")
}

// TestPureGo: rt is part of the pure-Go core (docs/ARCHITECTURE.md); steady send's C threads are
// the leaf media/steadysend.
func TestPureGo(t *testing.T) {
	deptest.ForbidCgo(t)
}
