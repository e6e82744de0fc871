package main

// The leaf packages: what wraps a C library lives outside the pure-Go core (callmgr, media,
// account, nat, control, tray) and registers itself with media when main imports it. Each has a
// stand-in for builds without cgo that says what is missing (docs/ARCHITECTURE.md).
import (
	_ "trayphone/media/codec/g722" // G.722 (spandsp); without cgo: registered as missing
	_ "trayphone/media/codec/opus" // Opus (libopus); without cgo: registered as missing
	_ "trayphone/media/dsp/speex"  // echo canceller, noise suppression, AGC (speexdsp); without cgo: missing, said at start
	_ "trayphone/media/steadysend" // steady send's C timer threads (Linux); elsewhere or without cgo: missing, said when a call would use it
)
