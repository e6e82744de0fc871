package media

// peekDue returns the payload of the packet queued for the frame the next pop plays, or nil. The
// session asks for it right after a pop found its frame missing: that next packet's in-band FEC
// (Opus, RFC 7587 §3.1.2) can rebuild the lost one. The payload is valid until the next insert.
func (jb *jitterBuffer) peekDue() []byte {
	if !jb.anchored || jb.queued == 0 {
		return nil
	}
	slot := jb.head()
	if slot == nil {
		return nil
	}
	if d := int32(slot.ts - jb.playTS); d > jb.half || d < -jb.half {
		return nil
	}
	return slot.payload
}
