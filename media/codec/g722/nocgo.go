//go:build !cgo

package g722

import "trayphone/media"

// Without cgo there is no spandsp: the codec is registered as missing, so that a config naming
// it is told why it is not offered (media.MissingCodec) instead of "unknown codec".
func init() {
	media.RegisterMissingCodec("G722", "this trayphone was built without cgo, so without spandsp: G.722 is not offered")
}
