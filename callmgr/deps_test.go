package callmgr

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says callmgr must not import, directly or through
// others: PortAudio reaches callmgr only inside the media.Device main hands it.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "fyne.io/systray", "github.com/gordonklaus/portaudio", "trayphone/media/portaudio")
}
