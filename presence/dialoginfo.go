package presence

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// DialogInfoType is the content type of a dialog-info body (RFC 4235 §4).
const DialogInfoType = "application/dialog-info+xml"

// dialogInfoNS is the XML namespace of dialog-info documents (RFC 4235 §4.1).
const dialogInfoNS = "urn:ietf:params:xml:ns:dialog-info"

// LineState is what a favorite's phone is doing, as the Favorites menu shows it.
type LineState int

// Line states. The zero value is Unknown: no dialog information yet.
const (
	LineUnknown LineState = iota
	LineIdle
	LineRinging
	LineBusy
)

// String returns the state as status --json and the tray show it.
func (s LineState) String() string {
	switch s {
	case LineIdle:
		return "idle"
	case LineRinging:
		return "ringing"
	case LineBusy:
		return "busy"
	}
	return "unknown"
}

// Dialog is one <dialog> element: its id and state (trying, proceeding, early, confirmed,
// terminated) and the direction, when given.
type Dialog struct {
	ID        string
	State     string
	Direction string
}

// DialogInfo is a parsed dialog-info document (RFC 4235 §4.1).
type DialogInfo struct {
	Entity  string
	Version uint64
	// Full is true for state="full" (the complete list), false for "partial" (changes only).
	Full    bool
	Dialogs []Dialog
}

// ErrBadDialogInfo is wrapped by every error ParseDialogInfo returns.
var ErrBadDialogInfo = errors.New("not a valid dialog-info document")

type xmlDialogInfo struct {
	XMLName xml.Name    `xml:"dialog-info"`
	Version string      `xml:"version,attr"`
	State   string      `xml:"state,attr"`
	Entity  string      `xml:"entity,attr"`
	Dialogs []xmlDialog `xml:"dialog"`
}

type xmlDialog struct {
	ID        string `xml:"id,attr"`
	Direction string `xml:"direction,attr"`
	State     string `xml:"state"`
}

// maxDialogs bounds the dialogs of one document.
const maxDialogs = 256

// ParseDialogInfo reads an application/dialog-info+xml document (RFC 4235 §4.1). It checks the
// root element and namespace, the version, the document state and each dialog's id and state.
// Go's XML decoder expands no external entities; the body is bounded by MaxBody.
func ParseDialogInfo(body []byte) (DialogInfo, error) {
	var d DialogInfo
	if len(body) > MaxBody {
		return d, fmt.Errorf("%w: the body is %d bytes, more than %d", ErrBadDialogInfo, len(body), MaxBody)
	}
	var x xmlDialogInfo
	dec := xml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&x); err != nil {
		return d, fmt.Errorf("%w: %v", ErrBadDialogInfo, err)
	}
	if x.XMLName.Space != dialogInfoNS {
		return d, fmt.Errorf("%w: the namespace is %q, want %q", ErrBadDialogInfo, clip(x.XMLName.Space), dialogInfoNS)
	}
	if _, err := fmt.Sscan(x.Version, &d.Version); err != nil || strings.TrimSpace(x.Version) == "" || strings.ContainsAny(x.Version, "+-") {
		return d, fmt.Errorf("%w: version %q is not a number", ErrBadDialogInfo, clip(x.Version))
	}
	switch x.State {
	case "full":
		d.Full = true
	case "partial":
	default:
		return d, fmt.Errorf("%w: state %q, want full or partial", ErrBadDialogInfo, clip(x.State))
	}
	if len(x.Dialogs) > maxDialogs {
		return d, fmt.Errorf("%w: %d dialogs, more than %d", ErrBadDialogInfo, len(x.Dialogs), maxDialogs)
	}
	d.Entity = x.Entity
	for _, xd := range x.Dialogs {
		st := strings.ToLower(strings.TrimSpace(xd.State))
		switch st {
		case "trying", "proceeding", "early", "confirmed", "terminated":
		default:
			return d, fmt.Errorf("%w: dialog %q has state %q", ErrBadDialogInfo, clip(xd.ID), clip(xd.State))
		}
		if xd.ID == "" {
			return d, fmt.Errorf("%w: a dialog has no id", ErrBadDialogInfo)
		}
		d.Dialogs = append(d.Dialogs, Dialog{ID: xd.ID, State: st, Direction: xd.Direction})
	}
	return d, nil
}

// Merge applies a document to the dialogs known so far (by id; nil: none) and returns the new
// set: a full document replaces them, a partial one updates the dialogs it names (RFC 4235
// §4.1). Terminated dialogs are dropped.
func Merge(known map[string]string, d DialogInfo) map[string]string {
	out := make(map[string]string, len(d.Dialogs))
	if !d.Full {
		for id, st := range known {
			out[id] = st
		}
	}
	for _, dl := range d.Dialogs {
		if dl.State == "terminated" {
			delete(out, dl.ID)
			continue
		}
		out[dl.ID] = dl.State
	}
	return out
}

// StateOf sums up dialogs (id → state) as a line state: busy when one is confirmed, ringing when
// one is being set up (trying, proceeding, early), idle otherwise (none, or all terminated).
func StateOf(dialogs map[string]string) LineState {
	st := LineIdle
	for _, s := range dialogs {
		switch s {
		case "confirmed":
			return LineBusy
		case "trying", "proceeding", "early":
			st = LineRinging
		}
	}
	return st
}
