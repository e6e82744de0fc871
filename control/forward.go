package control

import (
	"context"
	"fmt"
	"strconv"

	"trayphone/internal/phone"
)

func init() {
	cliCommands["forward"] = &cliCommand{usage: "[off | always URI | busy URI | noanswer SECONDS URI]", maxArgs: 3, json: true,
		summary: "show or change call forwarding (302 to URI: always, when busy, or after ringing SECONDS)",
		run:     runForward}
}

// ForwardArgs are the arguments of "forward": Set nil only asks what is in force.
type ForwardArgs struct {
	Set *phone.Forward `json:"set,omitempty"`
}

// parseForward reads the command line of "forward".
func parseForward(args []string) (*phone.Forward, error) {
	if len(args) == 0 {
		return nil, nil
	}
	bad := usageError{`forward: say "off", "always URI", "busy URI" or "noanswer SECONDS URI"`}
	switch args[0] {
	case phone.ForwardOff:
		if len(args) != 1 {
			return nil, bad
		}
		return &phone.Forward{Mode: phone.ForwardOff}, nil
	case phone.ForwardAlways, phone.ForwardBusy:
		if len(args) != 2 {
			return nil, bad
		}
		return &phone.Forward{Mode: args[0], Target: args[1]}, nil
	case phone.ForwardNoAnswer:
		if len(args) != 3 {
			return nil, bad
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return nil, usageError{fmt.Sprintf("forward noanswer: %q is not a number of seconds", args[1])}
		}
		return &phone.Forward{Mode: phone.ForwardNoAnswer, After: phone.Seconds(n), Target: args[2]}, nil
	}
	return nil, bad
}

// runForward is "trayphone forward [...]".
func runForward(ctx context.Context, c *Client, inv *invocation) error {
	set, err := parseForward(inv.args)
	if err != nil {
		return err
	}
	var f phone.Forward
	if err := c.Do(ctx, "forward", ForwardArgs{Set: set}, &f); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, f)
	}
	_, err = fmt.Fprintf(inv.stdout, "forwarding: %s\n", f)
	return err
}
