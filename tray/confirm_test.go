package tray

import (
	"context"
	"errors"
	"testing"
	"time"

	"trayphone/internal/siptest/dbustest"
)

// TestConfirmCall: a clicked link's call waits for the user's Call; Cancel says no.
func TestConfirmCall(t *testing.T) {
	addr := dbustest.StartBus(t)
	srv := dbustest.StartNotifServer(t, addr, true)
	for _, tc := range []struct {
		key  string
		want bool
	}{{"call", true}, {"cancel", false}} {
		t.Run(tc.key, func(t *testing.T) {
			got := make(chan bool, 1)
			go func() { // ends with the answer
				ok, err := confirmCall(context.Background(), dbustest.Connect(t, addr), "tel:+15550100", "", nil)
				if err != nil {
					t.Errorf("confirm: %v", err)
				}
				got <- ok
			}()
			note := srv.NextNote(t)
			if note.Summary != "Call tel:+15550100?" || len(note.Actions) != 4 || note.Actions[0] != "call" || note.Actions[2] != "cancel" {
				t.Errorf("note %q with actions %q, want Call/Cancel for tel:+15550100", note.Summary, note.Actions)
			}
			srv.Invoke(t, note.ID, tc.key)
			select {
			case ok := <-got:
				if ok != tc.want {
					t.Errorf("pressing %s: confirmed %v, want %v", tc.key, ok, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no answer 5 s after the button was pressed")
			}
		})
	}
}

// TestConfirmCallWithoutButtons: no server with buttons means no confirmation, hence no call.
func TestConfirmCallWithoutButtons(t *testing.T) {
	addr := dbustest.StartBus(t)
	dbustest.StartNotifServer(t, addr, false)
	ok, err := confirmCall(context.Background(), dbustest.Connect(t, addr), "sip:x@example.org", "", nil)
	if ok || !errors.Is(err, ErrNoConfirm) {
		t.Errorf("got %v, %v; want false, ErrNoConfirm", ok, err)
	}
}
