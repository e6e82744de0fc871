package media

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says media must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "trayphone/callmgr", "trayphone/account", "trayphone/nat", "github.com/emiago/sipgo/")
}
