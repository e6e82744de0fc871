package assets

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says assets must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/")
}
