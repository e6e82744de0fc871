package phone

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says internal/phone must not import.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, true)
}
