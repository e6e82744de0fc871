//go:build !windows

package tray

import "log/slog"

// newToaster has no toasts to show outside Windows.
func newToaster(func(args string), *slog.Logger) toaster { return nil }

// toastsAvailable is asked on Windows only.
func toastsAvailable() bool { return false }
