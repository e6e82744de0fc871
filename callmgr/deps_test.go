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

// TestNoTraversalProtocol: nat owns traversal (STUN, TURN, the decisions about a call's audio
// socket behind a NAT); callmgr keeps only each call's NAT state and asks nat.
func TestNoTraversalProtocol(t *testing.T) {
	deptest.ForbidImports(t, "github.com/pion/stun/", "github.com/pion/turn/")
}
