package voicemail

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says voicemail must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/callmgr", "trayphone/account", "trayphone/tray", "trayphone/control", "trayphone/nat", "github.com/emiago/sipgo/", "trayphone/media/portaudio")
}

// TestPureGo: voicemail is part of the pure-Go core.
func TestPureGo(t *testing.T) {
	deptest.ForbidCgo(t)
}
