package callmgr

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says callmgr must not import. PortAudio reaches callmgr
// only inside the media.Device main hands it (media owns the device drivers), so that one is
// checked as a direct import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "fyne.io/systray")
	deptest.ForbidDirect(t, "github.com/gordonklaus/portaudio")
}
