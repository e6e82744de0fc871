package control

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the "must not import" column of ARCHITECTURE.md for control.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"trayphone/tray", "fyne.io/systray", "github.com/gordonklaus/portaudio", "trayphone/callmgr", "github.com/emiago/sipgo"} {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("control imports %s", dep)
			}
		}
	}
}
