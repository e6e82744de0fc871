//go:build !cgo

package speex

import "trayphone/media"

// Without cgo there is no speexdsp: media is told why, so that a config asking for echo
// cancellation, noise suppression or AGC is answered with a plain warning (media.ProcessingMissing)
// and the microphone goes out unprocessed.
func init() {
	media.RegisterProcessorMissing("this trayphone was built without cgo, so without speexdsp: no echo cancellation, noise suppression or AGC")
}
