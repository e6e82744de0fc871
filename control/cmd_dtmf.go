package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// DTMFArgs are the arguments of "dtmf": the digits to send on call ID ("" for the only answered
// call).
type DTMFArgs struct {
	ID     string `json:"id,omitempty"`
	Digits string `json:"digits"`
}

// DTMFSender sends DTMF digits on a call; *callmgr.Manager is one.
type DTMFSender interface {
	SendDTMF(ctx context.Context, id, digits string) error
}

// HandleDTMF serves the "dtmf" command on s with d.
func HandleDTMF(s *Server, d DTMFSender) {
	s.Handle("dtmf", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a DTMFArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("dtmf: unreadable arguments: %v", err)
			}
		}
		if a.Digits == "" {
			return nil, errors.New("no digits to send")
		}
		return nil, d.SendDTMF(ctx, a.ID, a.Digits)
	})
}

// runDTMF is "trayphone dtmf [ID] DIGITS".
func runDTMF(ctx context.Context, c *Client, inv *invocation) error {
	a := DTMFArgs{Digits: inv.arg(0)}
	if len(inv.args) == 2 {
		a = DTMFArgs{ID: inv.arg(0), Digits: inv.arg(1)}
	}
	if err := c.Do(ctx, "dtmf", a, nil); err != nil {
		return err
	}
	_, err := fmt.Fprintf(inv.stdout, "sent %s\n", a.Digits)
	return err
}
