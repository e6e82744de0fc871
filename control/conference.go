package control

import (
	"context"
	"fmt"
	"strings"
)

// ConferenceArgs are the arguments of "conference": the calls to join.
type ConferenceArgs struct {
	IDs []string `json:"ids"`
}

func init() {
	cliCommands["conference"] = &cliCommand{usage: "ID ID [ID...]", minArgs: 2, maxArgs: 16,
		summary: "join two or more answered calls into a local conference", run: runConference}
}

func runConference(ctx context.Context, c *Client, inv *invocation) error {
	if err := c.Do(ctx, "conference", ConferenceArgs{IDs: inv.args}, nil); err != nil {
		return err
	}
	_, err := fmt.Fprintf(inv.stdout, "conference of calls %s\n", strings.Join(inv.args, ", "))
	return err
}
