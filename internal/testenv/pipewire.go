package testenv

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartPipeWire starts a private PipeWire whose null sink ("nullsink", 48 kHz mono) loops
// playback into the default capture source (scripts/audio_start.sh), points this process's
// environment at it (XDG_RUNTIME_DIR, PULSE_SERVER, DBUS_SESSION_BUS_ADDRESS, HOME, so child
// processes inherit it too) and returns the state directory. It is stopped when t ends.
func StartPipeWire(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"pipewire", "wireplumber", "pipewire-pulse", "pactl", "dbus-daemon"} {
		RequireProgram(t, p)
	}
	scripts := filepath.Join(RepoRoot(t), "scripts")
	dir := t.TempDir()
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(scripts, "audio_start.sh"), dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("audio_start.sh: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		if out, err := exec.Command(filepath.Join(scripts, "audio_stop.sh"), dir).CombinedOutput(); err != nil {
			t.Errorf("audio_stop.sh: %v\n%s", err, out)
		}
	})
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			t.Fatalf("audio_start.sh printed %q, want export lines", sc.Text())
		}
		t.Setenv(k, v)
	}
	return dir
}

// RepoRoot is the directory holding go.mod, found from the test's working directory up (where
// scripts/ and the shared test data are).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
