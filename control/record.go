package control

import (
	"context"
	"fmt"
)

func init() {
	cliCommands["record"] = &cliCommand{usage: "on|off [ID]", minArgs: 1, maxArgs: 2, json: true,
		summary: "record the call (or call ID), both sides, into the state directory's recordings/",
		run:     runRecord}
}

// RecordArgs are the arguments of "record".
type RecordArgs struct {
	ID string `json:"id,omitempty"`
	On bool   `json:"on"`
}

// RecordResult is the result of "record": the recording's file.
type RecordResult struct {
	File string `json:"file"`
}

// runRecord is "trayphone record on|off [ID]".
func runRecord(ctx context.Context, c *Client, inv *invocation) error {
	var on bool
	switch inv.arg(0) {
	case "on":
		on = true
	case "off":
	default:
		return usageError{fmt.Sprintf("record: want \"on\" or \"off\", not %q", inv.arg(0))}
	}
	var res RecordResult
	if err := c.Do(ctx, "record", RecordArgs{ID: inv.arg(1), On: on}, &res); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, res)
	}
	if on {
		_, err := fmt.Fprintf(inv.stdout, "recording to %s\n", res.File)
		return err
	}
	_, err := fmt.Fprintf(inv.stdout, "recording stopped: %s\n", res.File)
	return err
}
