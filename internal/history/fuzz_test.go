package history

import (
	"encoding/json"
	"testing"

	"trayphone/internal/phone"
)

// FuzzParse feeds arbitrary history files to the parser (the file is the phone's own, but a
// crash or a disk error can leave anything in it): nothing may panic, at most Max entries come
// back, each passes check, and every dropped line is explained.
func FuzzParse(f *testing.F) {
	good, _ := json.Marshal(entry(1, phone.Incoming, "answered"))
	f.Add([]byte(`{"trayphone_history":1,"seen":"2026-12-07T09:00:00Z"}` + "\n" + string(good) + "\n"))
	f.Add([]byte(string(good) + "\n{\"remote\":1}\n\x00\xff\n"))
	f.Add([]byte(`{"trayphone_history":1,"seen":"not a time"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _, dropped, firstErr := parse(data)
		if len(entries) > Max {
			t.Fatalf("%d entries, want at most %d", len(entries), Max)
		}
		for _, e := range entries {
			if err := check(e); err != nil {
				t.Fatalf("entry %+v kept although %v", e, err)
			}
		}
		if dropped < 0 || (dropped > 0) != (firstErr != nil) {
			t.Fatalf("dropped %d lines, first error %v", dropped, firstErr)
		}
	})
}
