package tray

import (
	"context"
	"fmt"
	"math"
	"slices"

	"trayphone/internal/phone"
)

// Voicemail is what the Messages menu, "Block this caller", "Send to voicemail" and the
// new-message notification need from the core. A Controller or CallHandler that also implements
// it gets them; without it they are not shown.
type Voicemail interface {
	// Messages returns the answering machine's messages, newest first.
	Messages() []phone.VoicemailMessage
	// PlayMessage plays message id on the speaker and marks it played.
	PlayMessage(ctx context.Context, id string) error
	// Block adds a rule that rejects calls from uri (first of the screening rules).
	Block(ctx context.Context, uri string) error
	// SendToVoicemail lets the answering machine take the ringing call id.
	SendToVoicemail(ctx context.Context, id string) error
	// Call calls target (Call back).
	Call(ctx context.Context, target string) error
}

// messagesTitle is the Messages submenu's title, with how many are new.
func messagesTitle(list []phone.VoicemailMessage) string {
	n := 0
	for _, m := range list {
		if m.New {
			n++
		}
	}
	if n == 0 {
		return "Messages"
	}
	return fmt.Sprintf("Messages (%d new)", n)
}

// messageLabel is the Messages menu line for one message: "● Bob — 0:12, Dec 7 22:30".
func messageLabel(m phone.VoicemailMessage, names func(string) string) string {
	who := m.Name
	if n := names(m.From); n != "" {
		who = n
	}
	if who == "" {
		who = m.From
	}
	secs := int(math.Round(float64(m.Duration)))
	mark := ""
	if m.New {
		mark = "● "
	}
	return fmt.Sprintf("%s%s — %d:%02d, %s", mark, who, secs/60, secs%60, m.Start.Local().Format("Jan 2 15:04"))
}

// blockLabel is the "Block this caller" line for one caller.
func blockLabel(uri string, names func(string) string) string {
	if n := names(uri); n != "" {
		return "Block " + n + " (" + uri + ")"
	}
	return "Block " + uri
}

// callersOf returns the addresses of the incoming calls in recent, each once, in order: whom
// "Block this caller" offers (not the people the user called).
func callersOf(recent []phone.HistoryEntry) []string {
	var out []string
	for _, e := range recent {
		if e.Direction == phone.Incoming && e.Remote != "" && !slices.Contains(out, e.Remote) {
			out = append(out, e.Remote)
		}
	}
	return out
}
