package bench

// The leaf packages that wrap C libraries register themselves with media when imported (main
// does, in leaves.go); importing them here gives this package's tests the same phone: Opus,
// G.722, the echo canceller and steady send's timer threads.
import (
	_ "trayphone/media/codec/g722"
	_ "trayphone/media/codec/opus"
	_ "trayphone/media/dsp/speex"
	_ "trayphone/media/steadysend"
)
