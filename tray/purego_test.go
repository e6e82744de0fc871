package tray

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestPureGo: tray is part of the pure-Go core (docs/ARCHITECTURE.md); the C libraries live in
// leaf packages that main registers. On macOS the menu-bar item is fyne.io/systray's Cocoa
// code (cgo): allowed there only.
func TestPureGo(t *testing.T) {
	deptest.ForbidCgo(t, "darwin:fyne.io/systray")
}
