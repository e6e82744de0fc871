// Package testenv decides whether a test that needs a real peer (baresip, Kamailio, PipeWire, a
// desktop) can run. Locally a missing program skips the test; in CI (TRAYPHONE_CI=1, set by
// scripts/test.sh) it fails it, so a missing install step cannot hide behind a skip.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under scripts/test.sh, where every peer must be present.
func CI() bool { return os.Getenv("TRAYPHONE_CI") == "1" }

// RequireProgram skips (locally) or fails (in CI) t when a program is not on PATH, and returns its path.
func RequireProgram(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed (run scripts/setup.sh)")
	}
	return p
}

// Missing skips t locally and fails it in CI, with reason.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if CI() {
		t.Fatalf("required for this test: %s", reason)
	}
	t.Skipf("skipping: %s", reason)
}

// Soak reports whether long soak tests were asked for (TRAYPHONE_SOAK=1).
func Soak() bool { return os.Getenv("TRAYPHONE_SOAK") == "1" }
