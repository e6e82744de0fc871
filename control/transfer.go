package control

import (
	"context"
	"fmt"

	"trayphone/internal/phone"
)

func init() {
	cliCommands["transfer"] = &cliCommand{usage: "ID TARGET | ID --to ID2 [--json]", minArgs: 1, maxArgs: 2, json: true,
		summary: "transfer call ID to TARGET (a favorite, number or SIP address), or to the far end of call ID2 (attended)",
		run:     runTransfer}
}

// TransferArgs are the arguments of "transfer": call ID goes to Target (blind) or to the far end
// of call To, which it replaces (attended). callmgr.TransferCommand serves it.
type TransferArgs struct {
	ID     string `json:"id"`
	Target string `json:"target,omitempty"`
	To     string `json:"to,omitempty"`
}

func runTransfer(ctx context.Context, c *Client, inv *invocation) error {
	a := TransferArgs{ID: inv.arg(0), Target: inv.arg(1), To: inv.to}
	switch {
	case a.Target == "" && a.To == "":
		return usageError{"give the TARGET to transfer call " + a.ID + " to, or --to ID2 for an attended transfer"}
	case a.Target != "" && a.To != "":
		return usageError{"give a TARGET or --to ID2, not both"}
	}
	var call phone.CallInfo
	if err := c.Do(ctx, "transfer", a, &call); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, call)
	}
	target := a.Target
	if call.Transfer != nil {
		target = call.Transfer.Target
	}
	_, err := fmt.Fprintf(inv.stdout, "transferring call %s to %s (follow it with: trayphone events)\n", call.ID, target)
	return err
}
