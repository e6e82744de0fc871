//go:build darwin && !cgo

package tray

import (
	"context"
	"errors"
)

// Run fails at once: on macOS the menu-bar item is fyne.io/systray's Cocoa code, which needs cgo,
// and this build has none. Run headless (notifications and the control channel still work).
func Run(ctx context.Context, ctl Controller, opts Options) error {
	return errors.New("this trayphone was built without cgo: the macOS menu-bar item (fyne.io/systray, Cocoa) is not in it; run it headless")
}
