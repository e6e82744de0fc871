package media

import "testing"

// leafCodec returns the registered codec name, for media's own tests of Opus and G.722: those
// codecs live in leaf packages (media/codec/...) that import media, so these tests cannot import
// them; leaves_test.go (package media_test, in the same test binary) does, and they register
// themselves before any test runs.
func leafCodec(tb testing.TB, name string) Codec {
	tb.Helper()
	c, ok := CodecByName(name)
	if !ok {
		tb.Fatalf("codec %s is not registered: is leaves_test.go importing its package (and cgo on)?", name)
	}
	return c
}
