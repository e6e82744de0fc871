package screen

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps: the screening rules are pure: the standard library only.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, true)
}
