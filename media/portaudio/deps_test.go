package portaudio

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps keeps the sound card driver a leaf beside media: it may use media's interfaces, never
// the packages above it.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "trayphone/callmgr", "trayphone/account", "trayphone/nat", "trayphone/control",
		"github.com/emiago/sipgo/", "fyne.io/systray")
}
