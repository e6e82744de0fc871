package media

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestDeps enforces what ARCHITECTURE.md says media must not import. The PortAudio driver lives
// in media/portaudio, which main registers (UseSoundCard): media itself stays free of cgo audio.
func TestDeps(t *testing.T) {
	deptest.Forbid(t, false, "trayphone/tray", "trayphone/callmgr", "trayphone/account", "trayphone/nat", "github.com/emiago/sipgo/",
		"github.com/gordonklaus/portaudio", "trayphone/media/portaudio")
}

// TestNoSystemCalls: media is the session, the jitter buffer, playout, RTCP, DTMF, VAD/CN and
// G.711; the operating system's machinery (kernel timers, raw sendto, real-time scheduling, what
// /proc says) is media/internal/rt's, behind its portable API.
func TestNoSystemCalls(t *testing.T) {
	deptest.ForbidImports(t, "syscall", "unsafe", "golang.org/x/sys/", "os/exec")
}
