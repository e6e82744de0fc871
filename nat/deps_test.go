package nat

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says nat must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/callmgr", "trayphone/account", "trayphone/media", "trayphone/tray", "github.com/emiago/sipgo/")
}
