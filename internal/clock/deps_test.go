package clock

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says internal/clock must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, true)
}
