package media

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says media must not import. The PortAudio driver lives
// in media/portaudio, which main registers (UseSoundCard): media itself stays free of cgo audio.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "trayphone/callmgr", "trayphone/account", "trayphone/nat", "github.com/emiago/sipgo/",
		"github.com/gordonklaus/portaudio", "trayphone/media/portaudio")
}
