package hooks

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps: the hooks runner is a client of the core's event stream, like the tray: it sees
// internal/phone snapshots only.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/callmgr", "trayphone/media", "trayphone/tray", "trayphone/control",
		"trayphone/account", "trayphone/nat", "github.com/emiago/sipgo", "github.com/pion/")
}
