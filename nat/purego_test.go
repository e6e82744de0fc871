package nat

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestPureGo: nat is part of the pure-Go core (docs/ARCHITECTURE.md); the C libraries live in
// leaf packages that main registers.
func TestPureGo(t *testing.T) {
	deptest.ForbidCgo(t)
}
