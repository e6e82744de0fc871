package tray

import (
	"bytes"
	"testing"

	"trayphone/assets"
)

// TestTrayIconFor: Windows gets an ICO (a PNG showed no icon under Wine: "systray error: unable
// to set icon"), other systems the PNG.
func TestTrayIconFor(t *testing.T) {
	t.Parallel()
	ico := trayIconFor("windows", assets.IconIdle, 64)
	if !bytes.HasPrefix(ico, []byte{0, 0, 1, 0}) {
		t.Errorf("windows: got % x…, want an ICO header (00 00 01 00)", ico[:min(8, len(ico))])
	}
	for _, goos := range []string{"linux", "darwin", "freebsd"} {
		if png := trayIconFor(goos, assets.IconIdle, 22); !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: got % x…, want a PNG", goos, png[:min(8, len(png))])
		}
	}
}
