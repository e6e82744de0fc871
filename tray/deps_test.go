package tray

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps checks the "must not import" column of ARCHITECTURE.md: the tray is a client of the core.
func TestDeps(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/emiago/sipgo", "github.com/pion/", "github.com/gordonklaus/portaudio",
		"trayphone/callmgr", "trayphone/media", "trayphone/nat",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("tray imports %s (forbidden: %s)", dep, f)
			}
		}
	}
}
