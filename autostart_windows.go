//go:build windows

package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// runKey is the per-user list of programs Windows starts at login.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// autostartOn sets HKCU\...\Run\trayphone to the command line and returns where.
func autostartOn(exe string, args []string) (string, error) {
	where := `HKEY_CURRENT_USER\` + runKey + `\trayphone`
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return where, fmt.Errorf("open %s: %w", runKey, err)
	}
	defer k.Close()
	return where, k.SetStringValue("trayphone", runKeyCommand(exe, args))
}

// autostartOff deletes the Run value; existed is false when there was none.
func autostartOff() (where string, existed bool, err error) {
	where = `HKEY_CURRENT_USER\` + runKey + `\trayphone`
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return where, false, nil
	}
	if err != nil {
		return where, false, fmt.Errorf("open %s: %w", runKey, err)
	}
	defer k.Close()
	err = k.DeleteValue("trayphone")
	if errors.Is(err, registry.ErrNotExist) {
		return where, false, nil
	}
	return where, err == nil, err
}
