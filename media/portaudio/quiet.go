//go:build cgo && linux && !noportaudio

package portaudio

/*
#cgo LDFLAGS: -ldl
#include "quiet.h"
*/
import "C"

import (
	"os"
	"sync"
)

var quietOnce sync.Once

// quietAudioLibs silences ALSA and JACK, once per process, unless AudioDebugEnv asks not to.
func quietAudioLibs() {
	quietOnce.Do(func() {
		if os.Getenv(AudioDebugEnv) != "1" {
			C.tp_quiet_audio_libs()
		}
	})
}

// quietedMessages is how many ALSA and JACK messages were silenced so far.
func quietedMessages() int64 { return int64(C.tp_quieted_count()) }
