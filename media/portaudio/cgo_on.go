//go:build cgo && (noportaudio || !(linux || windows))

package portaudio

// cgoEnabled says whether this build has cgo (noportaudio.go names the reason it has no driver).
const cgoEnabled = true
