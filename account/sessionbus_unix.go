//go:build linux || freebsd || openbsd || netbsd || dragonfly

package account

import (
	"os"
	"path/filepath"
)

// sessionBusAvailable reports whether a D-Bus session bus can be reached without starting one:
// its address is in DBUS_SESSION_BUS_ADDRESS, or systemd's per-user bus socket exists (where the
// D-Bus library looks next). Otherwise the library would run dbus-launch.
func sessionBusAvailable() bool {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return true
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		if fi, err := os.Stat(filepath.Join(dir, "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return true
		}
	}
	return false
}
