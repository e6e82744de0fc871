//go:build !windows

package main

import (
	"errors"
	"io"
	"runtime"
)

// applyLinks has no registry to write outside Windows.
func applyLinks(register bool, _ string, _ []string, _ io.Writer) error {
	if runtime.GOOS == "darwin" {
		return errors.New("register-links is for Windows: on macOS the links come from trayphone.app's Info.plist (scripts/build_macos.sh) and \"trayphone autostart on\" adds the login item")
	}
	return errors.New("register-links is for Windows: on Linux run scripts/desktop_install.sh (desktop entry and link handler) and \"trayphone autostart on\"")
}
