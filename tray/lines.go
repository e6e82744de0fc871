package tray

import (
	"fmt"

	"trayphone/internal/phone"
)

// voicemailBox is what the tray shows of the accounts' voicemail boxes (MWI).
type voicemailBox struct {
	// New is the number of new voice messages over all accounts.
	New int
	// URI is what "Call voicemail" dials: the box of the first account with new messages, else
	// the first account's that has one; "" hides the item.
	URI string
}

// voicemailOf sums up the accounts' voicemail boxes.
func voicemailOf(accts []phone.AccountInfo) voicemailBox {
	var b voicemailBox
	first := ""
	for _, a := range accts {
		if a.Voicemail != nil {
			b.New += a.Voicemail.New
		}
		if a.VoicemailURI == "" {
			continue
		}
		if first == "" {
			first = a.VoicemailURI
		}
		if b.URI == "" && a.Voicemail != nil && a.Voicemail.New > 0 {
			b.URI = a.VoicemailURI
		}
	}
	if b.URI == "" {
		b.URI = first
	}
	return b
}

// title is the tray's title: the app's name and the new voice messages, "trayphone (2)".
func (b voicemailBox) title() string {
	if b.New > 0 {
		return fmt.Sprintf("%s (%d)", appName, b.New)
	}
	return appName
}

// label is the "Call voicemail" item's text.
func (b voicemailBox) label() string {
	if b.New > 0 {
		return fmt.Sprintf("Call voicemail (%d new)", b.New)
	}
	return "Call voicemail"
}

// favoriteLabel is a favorite's line in the Favorites menu, with its line state when watched
// (BLF): "● Front desk (busy)", "◐ Front desk (ringing)", "○ Front desk".
func favoriteLabel(f Favorite, states map[string]string) string {
	title := f.Name
	if title == "" {
		title = f.URI
	}
	switch states[f.Name] {
	case "busy":
		return "● " + title + " (busy)"
	case "ringing":
		return "◐ " + title + " (ringing)"
	case "idle":
		return "○ " + title
	}
	return title
}

// favoriteStates maps the watched favorites' names to their line state.
func favoriteStates(st phone.Status) map[string]string {
	m := make(map[string]string, len(st.Favorites))
	for _, f := range st.Favorites {
		m[f.Name] = f.State
	}
	return m
}
