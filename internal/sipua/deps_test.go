package sipua

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says internal/sipua must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "trayphone/callmgr", "trayphone/account", "trayphone/media")
}
