package tray

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/dbustest"
)

// vmRecorder is a recorder with the answering machine and blocking (Voicemail).
type vmRecorder struct {
	*recorder
	msgs []phone.VoicemailMessage
}

func (r *vmRecorder) Messages() []phone.VoicemailMessage { return r.msgs }
func (r *vmRecorder) PlayMessage(_ context.Context, id string) error {
	return r.rec("play " + id)
}
func (r *vmRecorder) Block(_ context.Context, uri string) error { return r.rec("block " + uri) }
func (r *vmRecorder) SendToVoicemail(_ context.Context, id string) error {
	return r.rec("voicemail " + id)
}

func TestNotifierVoicemail(t *testing.T) {
	addr := dbustest.StartBus(t)
	srv := dbustest.StartNotifServer(t, addr, true)
	ctl := &vmRecorder{recorder: newRecorder()}
	n := newNotifier(dbustest.Connect(t, addr), ctl, func(uri string) string {
		if uri == "sip:carol@example.com" {
			return "Carol"
		}
		return ""
	}, nil)
	defer n.Close()

	t.Run("send to voicemail", func(t *testing.T) {
		n.Handle(callEvent("c1", phone.CallIncoming, false, ""))
		note := srv.NextNote(t)
		id := checkIncoming(t, note)
		if i := slices.Index(note.Actions, "voicemail"); i < 0 || note.Actions[i+1] != "Send to voicemail" {
			t.Fatalf("actions %q: want \"Send to voicemail\"", note.Actions)
		}
		srv.Invoke(t, id, "voicemail")
		expect(t, ctl.got, "voicemail c1")
		ev := callEvent("c1", phone.CallActive, true, "")
		ev.Call.Voicemail = true
		n.Handle(ev)
		srv.WaitClosed(t, id)
		ev = callEvent("c1", phone.CallEnded, true, "the far end hung up")
		ev.Call.Voicemail = true
		n.Handle(ev)
		srv.NoNote(t) // the machine answered: not a missed call
	})
	t.Run("silent", func(t *testing.T) {
		ev := callEvent("c2", phone.CallIncoming, false, "")
		ev.Call.Silent = true
		n.Handle(ev)
		note := srv.NextNote(t)
		if note.Summary != "Incoming call (silent)" {
			t.Errorf("summary %q, want it to say silent", note.Summary)
		}
		if u, ok := note.Hints["urgency"].Value().(byte); !ok || u != 0 {
			t.Errorf("urgency hint: got %v, want byte 0 (low)", note.Hints["urgency"])
		}
		if s, ok := note.Hints["suppress-sound"].Value().(bool); !ok || !s {
			t.Errorf("suppress-sound hint: got %v, want true", note.Hints["suppress-sound"])
		}
		n.Handle(callEvent("c2", phone.CallEnded, false, "Call completed elsewhere"))
		srv.WaitClosed(t, note.ID)
	})
	t.Run("new message", func(t *testing.T) {
		msg := phone.VoicemailMessage{ID: "20261207-223005", From: "sip:carol@example.com", Start: time.Now(), Duration: 12, New: true}
		n.Handle(phone.Event{Type: phone.EventVoicemail, Voicemail: &msg})
		note := srv.NextNote(t)
		if note.Summary != "New message from Carol" || !strings.Contains(note.Body, "sip:carol@example.com") || !strings.Contains(note.Body, "12 s") {
			t.Errorf("got %q / %q, want \"New message from Carol\" with the address and length", note.Summary, note.Body)
		}
		for _, a := range []string{"play", "callback"} {
			if !slices.Contains(note.Actions, a) {
				t.Errorf("actions %q: want %q", note.Actions, a)
			}
		}
		srv.Invoke(t, note.ID, "play")
		expect(t, ctl.got, "play 20261207-223005")
		srv.Invoke(t, note.ID, "callback")
		expect(t, ctl.got, "call sip:carol@example.com")
	})
}

func TestMessagesMenuLabels(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 22, 30, 0, 0, time.Local)
	list := []phone.VoicemailMessage{
		{ID: "a", From: "sip:carol@example.com", Start: at, Duration: 72.4, New: true},
		{ID: "b", From: "sip:dave@example.com", Name: "Dave", Start: at, Duration: 5},
	}
	if got := messagesTitle(list); got != "Messages (1 new)" {
		t.Errorf("title %q, want \"Messages (1 new)\"", got)
	}
	if got := messagesTitle(list[1:]); got != "Messages" {
		t.Errorf("title %q, want \"Messages\"", got)
	}
	names := func(uri string) string {
		if uri == "sip:carol@example.com" {
			return "Carol"
		}
		return ""
	}
	if got := messageLabel(list[0], names); got != "● Carol — 1:12, Dec 7 22:30" {
		t.Errorf("label %q", got)
	}
	if got := messageLabel(list[1], names); got != "Dave — 0:05, Dec 7 22:30" {
		t.Errorf("label %q", got)
	}
	if got := blockLabel("sip:carol@example.com", names); got != "Block Carol (sip:carol@example.com)" {
		t.Errorf("block label %q", got)
	}
	recent := []phone.HistoryEntry{
		{Direction: phone.Incoming, Remote: "sip:bob@example.com"},
		{Direction: phone.Outgoing, Remote: "sip:dave@example.com"},
		{Direction: phone.Incoming, Remote: "sip:bob@example.com"},
		{Direction: phone.Incoming, Remote: "sip:erin@example.com"},
	}
	if got := callersOf(recent); !slices.Equal(got, []string{"sip:bob@example.com", "sip:erin@example.com"}) {
		t.Errorf("callersOf: got %q, want bob and erin once each, not dave (called by the user)", got)
	}
}
