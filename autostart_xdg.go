//go:build !darwin && !windows

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/adrg/xdg"
)

// autostartPath is the XDG autostart entry: $XDG_CONFIG_HOME/autostart/trayphone.desktop.
func autostartPath() string {
	xdg.Reload() // honour the current environment, not the one at start-up
	return filepath.Join(xdg.ConfigHome, "autostart", "trayphone.desktop")
}

// autostartOn writes the XDG autostart entry and returns its path.
func autostartOn(exe string, args []string) (string, error) {
	path := autostartPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return path, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(desktopEntry(exe, args)), 0o644); err != nil {
		return path, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return path, err
	}
	return path, nil
}

// autostartOff removes the XDG autostart entry; existed is false when there was none.
func autostartOff() (where string, existed bool, err error) {
	path := autostartPath()
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, false, nil
	}
	if err != nil {
		return path, true, fmt.Errorf("remove %s: %w", path, err)
	}
	return path, true, nil
}

// desktopEntry is the XDG autostart entry (Desktop Entry Specification 1.5) running exe args.
func desktopEntry(exe string, args []string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=trayphone\n" +
		"Comment=SIP softphone in the system tray\n" +
		"Exec=" + desktopExec(append([]string{exe}, args...)) + "\n" +
		"Icon=trayphone\n" +
		"Terminal=false\n" +
		"Categories=Network;Telephony;\n" +
		"X-GNOME-Autostart-enabled=true\n"
}
