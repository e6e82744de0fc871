package control

import (
	"context"
	"fmt"
	"math"
	"text/tabwriter"

	"trayphone/internal/phone"
)

func init() {
	cliCommands["screen"] = &cliCommand{usage: "list | test URI|NUMBER | reload [--json]", minArgs: 1, maxArgs: 2, json: true,
		summary: "list the screening rules, say which rule would apply to a caller and why, or read the rules again", run: runScreen}
	cliCommands["block"] = &cliCommand{usage: "URI|NUMBER", minArgs: 1, maxArgs: 1,
		summary: "reject calls from a SIP address or number: a reject rule first in the settings file", run: runBlock}
	cliCommands["voicemail"] = &cliCommand{usage: "[ID]", maxArgs: 1,
		summary: "let the answering machine take the ringing call (or call ID)", run: idCommand("voicemail", "sent to voicemail")}
	cliCommands["messages"] = &cliCommand{usage: "[--json] | play ID | delete ID", maxArgs: 2, json: true,
		summary: "list the answering machine's messages, newest first; play or delete one", run: runMessages}
}

// screenRule is a rule as "screen.list" gives it.
type screenRule struct {
	N      int    `json:"n"`
	Match  string `json:"match"`
	Action string `json:"action"`
	When   string `json:"when,omitempty"`
	Where  string `json:"where,omitempty"`
}

func runScreen(ctx context.Context, c *Client, inv *invocation) error {
	switch sub := inv.arg(0); sub {
	case "list":
		if len(inv.args) > 1 {
			return usageError{"screen list takes no more arguments"}
		}
		var rules []screenRule
		if err := c.Do(ctx, "screen.list", nil, &rules); err != nil {
			return err
		}
		if rules == nil {
			rules = []screenRule{}
		}
		if inv.json {
			return printJSON(inv.stdout, rules)
		}
		if len(rules) == 0 {
			_, err := fmt.Fprintln(inv.stdout, "no screening rules: every call rings")
			return err
		}
		tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tMATCH\tACTION\tWHEN\tWHERE")
		for _, r := range rules {
			when := r.When
			if when == "" {
				when = "always"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.N, r.Match, r.Action, when, r.Where)
		}
		return tw.Flush()
	case "test":
		if len(inv.args) != 2 {
			return usageError{"say which caller to test: trayphone screen test URI|NUMBER"}
		}
		var res struct {
			URI       string `json:"uri"`
			Rule      int    `json:"rule"`
			Action    string `json:"action"`
			Why       string `json:"why"`
			Contact   bool   `json:"contact"`
			Anonymous bool   `json:"anonymous"`
		}
		if err := c.Do(ctx, "screen.test", map[string]string{"uri": inv.arg(1)}, &res); err != nil {
			return err
		}
		if inv.json {
			return printJSON(inv.stdout, res)
		}
		_, err := fmt.Fprintf(inv.stdout, "%s: %s\n%s\n", res.URI, res.Action, res.Why)
		return err
	case "reload":
		var res map[string]int
		if err := c.Do(ctx, "screen.reload", nil, &res); err != nil {
			return err
		}
		_, err := fmt.Fprintf(inv.stdout, "%d screening rules in use\n", res["rules"])
		return err
	default:
		return usageError{fmt.Sprintf("unknown screen command %q (want list, test or reload)", sub)}
	}
}

func runBlock(ctx context.Context, c *Client, inv *invocation) error {
	var r screenRule
	if err := c.Do(ctx, "screen.block", map[string]string{"target": inv.arg(0)}, &r); err != nil {
		return err
	}
	_, err := fmt.Fprintf(inv.stdout, "blocked %s: rule 1 in %s (match = %q, action = %q)\n", inv.arg(0), r.Where, r.Match, r.Action)
	return err
}

func runMessages(ctx context.Context, c *Client, inv *invocation) error {
	switch sub := inv.arg(0); sub {
	case "":
		var list []phone.VoicemailMessage
		if err := c.Do(ctx, "messages", nil, &list); err != nil {
			return err
		}
		if list == nil {
			list = []phone.VoicemailMessage{}
		}
		if inv.json {
			return printJSON(inv.stdout, list)
		}
		if len(list) == 0 {
			_, err := fmt.Fprintln(inv.stdout, "no messages")
			return err
		}
		tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTART\tLENGTH\tFROM\t")
		for _, m := range list {
			from := m.From
			if m.Name != "" {
				from = m.Name + " <" + m.From + ">"
			}
			isNew := ""
			if m.New {
				isNew = "new"
			}
			secs := int(math.Round(float64(m.Duration)))
			fmt.Fprintf(tw, "%s\t%s\t%d:%02d\t%s\t%s\n", m.ID, m.Start.Local().Format("2006-01-02 15:04:05"), secs/60, secs%60, from, isNew)
		}
		return tw.Flush()
	case "play", "delete":
		if len(inv.args) != 2 {
			return usageError{fmt.Sprintf("say which message: trayphone messages %s ID", sub)}
		}
		id := inv.arg(1)
		if sub == "delete" {
			if err := c.Do(ctx, "messages.delete", map[string]string{"id": id}, nil); err != nil {
				return err
			}
			_, err := fmt.Fprintf(inv.stdout, "deleted message %s\n", id)
			return err
		}
		var m phone.VoicemailMessage
		if err := c.Do(ctx, "messages.play", map[string]string{"id": id}, &m); err != nil {
			return err
		}
		_, err := fmt.Fprintf(inv.stdout, "playing message %s from %s (%.0f s)\n", id, m.From, float64(m.Duration))
		return err
	default:
		return usageError{fmt.Sprintf("unknown messages command %q (want play or delete, or nothing to list them)", sub)}
	}
}
