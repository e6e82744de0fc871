package control

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest checks that decoding never panics, and that an accepted request has a command
// and the current version and survives a re-encoding.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":7,"cmd":"call","args":{"target":"bob"}}`))
	f.Add([]byte(`{"v":2,"id":8,"cmd":"status"}`))
	f.Add([]byte(`{"v":1,"id":1,"cmd":"mute","args":{"id":"c1","on":true}}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"v":1,"id":-1,"cmd":"","args":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := decodeRequest(line)
		if err != nil {
			return
		}
		if req.Cmd == "" || req.V != 1 {
			t.Fatalf("accepted %+v", req)
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := decodeRequest(b)
		if err != nil || again.Cmd != req.Cmd || again.ID != req.ID {
			t.Fatalf("round trip: got %+v, %v; want %+v", again, err, req)
		}
		for _, v := range []any{&CallArgs{}, &IDArgs{}, &MuteArgs{}, &DNDArgs{}} {
			_ = decodeArgs(req.Cmd, req.Args, v)
		}
	})
}
