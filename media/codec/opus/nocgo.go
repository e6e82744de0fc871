//go:build !cgo

package opus

import "trayphone/media"

// PayloadType is the dynamic payload type trayphone offers Opus on.
const PayloadType = 111

// Without cgo there is no libopus: the codec is registered as missing, so that a config naming
// it is told why it is not offered (media.MissingCodec) instead of "unknown codec".
func init() {
	media.RegisterMissingCodec("opus", "this trayphone was built without cgo, so without libopus: Opus is not offered")
}
