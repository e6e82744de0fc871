package media

import "testing"

// TestDTMFSenderOpusClock: on an Opus call the events count in the codec's 48 kHz clock (RFC 4733
// §2.1): one 20 ms frame adds 960 to the duration, and a 100 ms digit ends at 4800.
func TestDTMFSenderOpusClock(t *testing.T) {
	d := newDTMFSender(leafCodec(t, "opus").TimestampStep())
	if err := d.enqueue("5"); err != nil {
		t.Fatal(err)
	}
	var durs []uint16
	ts := uint32(1000)
	for range dtmfEventFrames + dtmfEndPackets - 1 {
		ev, evTS, _, ok := d.next(ts)
		if !ok || evTS != 1000 || ev.Event != 5 {
			t.Fatalf("frame at %d: %+v at %d, %v", ts, ev, evTS, ok)
		}
		durs = append(durs, ev.Duration)
		ts += 960
	}
	want := []uint16{960, 1920, 2880, 3840, 4800, 4800, 4800}
	for i := range want {
		if durs[i] != want[i] {
			t.Fatalf("durations %v, want %v", durs, want)
		}
	}
}
