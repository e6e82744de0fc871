package history

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps keeps the history store a leaf: the call manager and the binary use it, it uses none
// of them.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/callmgr", "trayphone/account", "trayphone/media", "trayphone/tray",
		"trayphone/control", "trayphone/nat", "github.com/emiago/sipgo/", "github.com/pion/")
}
