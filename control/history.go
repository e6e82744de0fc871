package control

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"trayphone/internal/phone"
)

func init() {
	cliCommands["history"] = &cliCommand{usage: "[--json]", json: true,
		summary: "list the call history, newest first (kept across restarts)", run: runHistory}
	cliCommands["redial"] = &cliCommand{usage: "[--json]", json: true,
		summary: "call the remote of the latest outgoing call again", run: runRedial}
}

func runHistory(ctx context.Context, c *Client, inv *invocation) error {
	var h []phone.HistoryEntry
	if err := c.Do(ctx, "history", nil, &h); err != nil {
		return err
	}
	if h == nil {
		h = []phone.HistoryEntry{}
	}
	if inv.json {
		return printJSON(inv.stdout, h)
	}
	if len(h) == 0 {
		_, err := fmt.Fprintln(inv.stdout, "no calls in the history")
		return err
	}
	return writeHistory(inv.stdout, h)
}

// writeHistory prints the history as a table, newest first; unseen missed calls are marked "new".
func writeHistory(w io.Writer, h []phone.HistoryEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tDIRECTION\tRESULT\tDURATION\tREMOTE\tACCOUNT")
	for _, e := range h {
		result := e.Result
		if e.Unseen {
			result += " (new)"
		}
		remote := e.Remote
		if e.Name != "" {
			remote = e.Name + " <" + e.Remote + ">"
		}
		d := time.Duration(e.Duration) * time.Second
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Start.Local().Format("2006-01-02 15:04:05"), e.Direction, result,
			fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60), remote, e.Account)
	}
	return tw.Flush()
}

func runRedial(ctx context.Context, c *Client, inv *invocation) error {
	var call phone.CallInfo
	if err := c.Do(ctx, "redial", nil, &call); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, call)
	}
	_, err := fmt.Fprintf(inv.stdout, "calling %s (call %s, %s)\n", call.Remote, call.ID, call.State)
	return err
}
