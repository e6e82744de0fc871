//go:build darwin

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// autostartPath is the LaunchAgent: ~/Library/LaunchAgents/org.trayphone.trayphone.plist. launchd
// reads it at the next login ("launchctl load PATH" starts it now).
func autostartPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "LaunchAgents", autostartLabel+".plist"), nil
}

// autostartOn writes the LaunchAgent property list and returns its path.
func autostartOn(exe string, args []string) (string, error) {
	path, err := autostartPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return path, err
	}
	return path, os.WriteFile(path, []byte(launchAgent(exe, args)), 0o644)
}

// autostartOff removes the LaunchAgent; existed is false when there was none.
func autostartOff() (where string, existed bool, err error) {
	path, err := autostartPath()
	if err != nil {
		return "", false, err
	}
	err = os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, false, nil
	}
	if err != nil {
		return path, true, fmt.Errorf("remove %s: %w", path, err)
	}
	return path, true, nil
}
