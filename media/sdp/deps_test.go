package sdp

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says media/sdp must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "github.com/emiago/sipgo/", "trayphone/media", "trayphone/callmgr", "net/http")
}
