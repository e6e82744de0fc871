package media

import (
	"strings"
	"sync"
)

// missing holds the codecs a leaf package could not provide in this build (media/codec/opus
// built without cgo, say), by lower-case name, with the reason.
var missing struct {
	sync.RWMutex
	why map[string]string
}

// RegisterMissingCodec notes that this build has no codec name, and why in plain words (a leaf
// codec package's stand-in calls it when built without the C library it wraps). A registered
// codec of that name wins over the note.
func RegisterMissingCodec(name, why string) {
	missing.Lock()
	defer missing.Unlock()
	if missing.why == nil {
		missing.why = map[string]string{}
	}
	missing.why[strings.ToLower(name)] = why
}

// MissingCodec reports why this build has no codec name, if a leaf package said so and no codec
// of that name is registered.
func MissingCodec(name string) (why string, ok bool) {
	if _, found := CodecByName(name); found {
		return "", false
	}
	missing.RLock()
	defer missing.RUnlock()
	why, ok = missing.why[strings.ToLower(name)]
	return why, ok
}
