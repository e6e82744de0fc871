package account

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says account must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/callmgr", "trayphone/media", "trayphone/tray", "fyne.io/systray", "github.com/gordonklaus/portaudio")
}
