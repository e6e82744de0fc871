package presence

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says presence must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/callmgr", "trayphone/media", "trayphone/tray", "fyne.io/systray", "github.com/gordonklaus/portaudio")
}

// TestPureGo: presence is part of the pure-Go core (docs/ARCHITECTURE.md).
func TestPureGo(t *testing.T) {
	deptest.ForbidCgo(t)
}
