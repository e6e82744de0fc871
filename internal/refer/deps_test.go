package refer

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps keeps the transfer wire format pure: the standard library only.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, true)
}
