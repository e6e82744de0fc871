package control

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"trayphone/internal/phone"
)

// cliCommand is one "trayphone COMMAND" that talks to the running instance.
type cliCommand struct {
	usage   string // arguments after the command name
	summary string
	maxArgs int
	minArgs int
	json    bool // takes --json
	run     func(ctx context.Context, c *Client, inv *invocation) error
}

// invocation is one parsed command line.
type invocation struct {
	name    string
	args    []string
	json    bool
	account string
	to      string     // transfer --to
	voice   voiceFlags // play, record-far (voice.go)
	stdout  io.Writer
}

func (inv *invocation) arg(i int) string {
	if i < len(inv.args) {
		return inv.args[i]
	}
	return ""
}

var cliCommands = map[string]*cliCommand{
	"call": {usage: "TARGET [--account ID] [--json]", minArgs: 1, maxArgs: 1, json: true,
		summary: "call TARGET: a sip:, sips: or tel: URI, user@host, a favorite's name, or \"echo\"",
		run:     runCall},
	"answer": {usage: "[ID]", maxArgs: 1, summary: "answer the incoming call (or call ID)",
		run: idCommand("answer", "answered")},
	"hangup": {usage: "[ID]", maxArgs: 1, summary: "hang up the call (or call ID), or decline the ringing one",
		run: idCommand("hangup", "hung up")},
	"hold": {usage: "[ID]", maxArgs: 1, summary: "put the call (or call ID) on hold",
		run: idCommand("hold", "on hold")},
	"resume": {usage: "[ID]", maxArgs: 1, summary: "take the call (or call ID) off hold",
		run: idCommand("resume", "resumed")},
	"mute": {usage: "[ID]", maxArgs: 1, summary: "mute the microphone in the call (or call ID)",
		run: muteCommand(true)},
	"unmute": {usage: "[ID]", maxArgs: 1, summary: "unmute the microphone in the call (or call ID)",
		run: muteCommand(false)},
	"dtmf": {usage: "[ID] DIGITS", minArgs: 1, maxArgs: 2, summary: "send DTMF digits (0-9, *, #, A-D) in the call (or call ID)",
		run: runDTMF},
	"dnd": {usage: "on|off", minArgs: 1, maxArgs: 1, summary: "turn do-not-disturb on or off",
		run: runDND},
	"status": {usage: "[--json]", json: true, summary: "show accounts and calls",
		run: runStatus},
	"calls": {usage: "[--json]", json: true, summary: "list the calls",
		run: runCalls},
	"events": {usage: "[--json]", json: true, summary: "print events as JSON, one per line, until interrupted (--json changes nothing)",
		run: runEvents},
}

// IsClientCommand reports whether name is a command that RunCLI handles, so that main can route
// "trayphone NAME ..." to it.
func IsClientCommand(name string) bool {
	_, ok := cliCommands[name]
	return ok
}

// ClientCommands returns the names RunCLI handles, sorted, with a one-line summary each.
func ClientCommands() [][2]string {
	var out [][2]string
	for name, c := range cliCommands {
		out = append(out, [2]string{name + " " + c.usage, c.summary})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// RunCLI runs one client command (args[0] is its name) against the trayphone listening at
// socketPath and returns the process exit code: 0 on success, 1 when the command failed, 2 for a
// usage mistake. Output goes to stdout; errors, in plain words, to stderr.
func RunCLI(ctx context.Context, socketPath string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || !IsClientCommand(args[0]) {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "trayphone: missing command")
		} else {
			fmt.Fprintf(stderr, "trayphone: unknown command %q\n", args[0])
		}
		printCommands(stderr)
		return 2
	}
	name := args[0]
	cmd := cliCommands[name]
	inv, err := parseCommandLine(name, cmd, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "trayphone %s: %v\n", name, err)
		fmt.Fprintf(stderr, "usage: trayphone %s %s\n", name, cmd.usage)
		return 2
	}

	c, err := Dial(socketPath)
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	defer c.Close()
	if err := cmd.run(ctx, c, inv); err != nil {
		if name == "events" && ctx.Err() != nil {
			return 0 // interrupted: the normal way to stop following events
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "trayphone %s: %v\n", name, err)
			return 2
		}
		fmt.Fprintf(stderr, "trayphone %s: %v\n", name, err)
		return 1
	}
	return 0
}

// parseCommandLine parses flags anywhere among the arguments ("call bob --account work").
func parseCommandLine(name string, cmd *cliCommand, args []string, stdout, stderr io.Writer) (*invocation, error) {
	inv := &invocation{name: name, stdout: stdout}
	fs := flag.NewFlagSet("trayphone "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.json {
		fs.BoolVar(&inv.json, "json", false, "print JSON")
	}
	if name == "call" {
		fs.StringVar(&inv.account, "account", "", "place the call through account `ID`")
	}
	if name == "transfer" {
		fs.StringVar(&inv.to, "to", "", "attended transfer: to the far end of call `ID2`, which it replaces")
	}
	inv.voice.register(name, fs) // voice.go: --loop, --stop, --seconds
	fs.Usage = func() {}         // flag calls it on every parse error; help is printed below, on -h only
	usage := func() {
		fmt.Fprintf(stdout, "usage: trayphone %s %s\n\n%s\n", name, cmd.usage, cmd.summary)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	var rest []string // after "--": arguments, never flags ("say 1 -- -text")
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
			}
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		inv.args = append(inv.args, args[0])
		args = args[1:]
	}
	inv.args = append(inv.args, rest...)
	switch {
	case len(inv.args) < cmd.minArgs:
		return nil, fmt.Errorf("missing argument")
	case len(inv.args) > cmd.maxArgs:
		return nil, fmt.Errorf("too many arguments: %s", strings.Join(inv.args[cmd.maxArgs:], " "))
	}
	return inv, nil
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range ClientCommands() {
		fmt.Fprintf(tw, "  trayphone %s\t%s\n", c[0], c[1])
	}
	_ = tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runCall(ctx context.Context, c *Client, inv *invocation) error {
	var call phone.CallInfo
	if err := c.Do(ctx, "call", CallArgs{Target: inv.arg(0), Account: inv.account}, &call); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, call)
	}
	_, err := fmt.Fprintf(inv.stdout, "calling %s (call %s, %s)\n", call.Remote, call.ID, call.State)
	return err
}

func idCommand(cmd, done string) func(context.Context, *Client, *invocation) error {
	return func(ctx context.Context, c *Client, inv *invocation) error {
		if err := c.Do(ctx, cmd, IDArgs{ID: inv.arg(0)}, nil); err != nil {
			return err
		}
		_, err := fmt.Fprintln(inv.stdout, done)
		return err
	}
}

func muteCommand(on bool) func(context.Context, *Client, *invocation) error {
	return func(ctx context.Context, c *Client, inv *invocation) error {
		if err := c.Do(ctx, "mute", MuteArgs{ID: inv.arg(0), On: on}, nil); err != nil {
			return err
		}
		word := "unmuted"
		if on {
			word = "muted"
		}
		_, err := fmt.Fprintln(inv.stdout, word)
		return err
	}
}

func runDND(ctx context.Context, c *Client, inv *invocation) error {
	var on bool
	switch strings.ToLower(inv.arg(0)) {
	case "on":
		on = true
	case "off":
	default:
		return usageError{fmt.Sprintf("want \"on\" or \"off\", not %q", inv.arg(0))}
	}
	if err := c.Do(ctx, "dnd", DNDArgs{On: &on}, nil); err != nil {
		return err
	}
	_, err := fmt.Fprintf(inv.stdout, "do not disturb is %s\n", inv.arg(0))
	return err
}

func runStatus(ctx context.Context, c *Client, inv *invocation) error {
	var st phone.Status
	if err := c.Do(ctx, "status", nil, &st); err != nil {
		return err
	}
	if st.Accounts == nil {
		st.Accounts = []phone.AccountInfo{}
	}
	if st.Calls == nil {
		st.Calls = []phone.CallInfo{}
	}
	if inv.json {
		return printJSON(inv.stdout, st)
	}
	return writeStatus(inv.stdout, st)
}

func runCalls(ctx context.Context, c *Client, inv *invocation) error {
	var calls []phone.CallInfo
	if err := c.Do(ctx, "calls", nil, &calls); err != nil {
		return err
	}
	if calls == nil {
		calls = []phone.CallInfo{}
	}
	if inv.json {
		return printJSON(inv.stdout, calls)
	}
	if len(calls) == 0 {
		_, err := fmt.Fprintln(inv.stdout, "no calls")
		return err
	}
	return writeCalls(inv.stdout, calls)
}

func runEvents(ctx context.Context, c *Client, inv *invocation) error {
	enc := json.NewEncoder(inv.stdout) // one compact object per line
	return c.Events(ctx, func(ev phone.Event) error { return enc.Encode(ev) })
}

// writeStatus prints a status as short tables.
func writeStatus(w io.Writer, st phone.Status) error {
	dnd := "off"
	if st.DND {
		dnd = "on"
	}
	fmt.Fprintf(w, "trayphone pid %d, do not disturb %s\n", st.PID, dnd)
	if len(st.Contact) > 0 {
		fmt.Fprintf(w, "contact: %s\n", strings.Join(st.Contact, ", "))
	}
	if st.Forward != nil {
		fmt.Fprintf(w, "forwarding: %s\n", st.Forward)
	}
	writeNAT(w, st.NAT)
	fmt.Fprintln(w)
	if len(st.Accounts) == 0 {
		fmt.Fprintln(w, "no accounts")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCOUNT\tAOR\tSTATE\tREASON")
		for _, a := range st.Accounts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.AOR, a.State, a.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, a := range st.Accounts {
			if a.Voicemail != nil {
				fmt.Fprintf(w, "voicemail of %s: %d new, %d old\n", a.ID, a.Voicemail.New, a.Voicemail.Old)
			}
		}
	}
	if len(st.Favorites) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FAVORITE\tURI\tLINE")
		for _, f := range st.Favorites {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.URI, f.State)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(st.Calls) == 0 {
		_, err := fmt.Fprintln(w, "no calls")
		return err
	}
	return writeCalls(w, st.Calls)
}

// writeNAT prints what STUN found, e.g. "public address: 203.0.113.7:5060 (NAT: symmetric)", what
// else was detected, whether and why the TURN relay is in use, and how network changes are noticed.
func writeNAT(w io.Writer, n *phone.NATInfo) {
	if n == nil {
		return
	}
	if n.STUNServer != "" {
		switch {
		case n.Error != "":
			fmt.Fprintf(w, "public address: unknown (%s)\n", n.Error)
		case n.Public == "":
			fmt.Fprintf(w, "public address: not found yet (STUN server %s)\n", n.STUNServer)
		default:
			fmt.Fprintf(w, "public address: %s (NAT: %s)\n", n.Public, n.Type)
		}
		mapped := "no UPnP or NAT-PMP gateway mapped ports"
		if n.PortMapping != "" {
			mapped = n.PortMapping + " gateway mapped ports"
		}
		fmt.Fprintf(w, "port mapping: %s\n", mapped)
	}
	for _, d := range n.Detected {
		fmt.Fprintf(w, "detected: %s\n", d)
	}
	switch {
	case n.Relay != "" && n.RelayReason != "":
		fmt.Fprintf(w, "TURN relay: %s (%s)\n", n.Relay, n.RelayReason)
	case n.Relay != "":
		fmt.Fprintf(w, "TURN relay: %s\n", n.Relay)
	case n.RelayReason != "":
		fmt.Fprintf(w, "TURN relay: %s\n", n.RelayReason)
	}
	if n.Watch != "" {
		fmt.Fprintf(w, "network watch: %s\n", n.Watch)
	}
}

func writeCalls(w io.Writer, calls []phone.CallInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tDIRECTION\tREMOTE\tSTATE\tCODEC\tDURATION")
	for _, c := range calls {
		state := c.State.String()
		var notes []string
		if c.Muted {
			notes = append(notes, "muted")
		}
		if c.Recording != "" {
			notes = append(notes, "recording")
		}
		if c.Encryption != "" && c.Encryption != "none" {
			notes = append(notes, "encrypted: "+c.Encryption)
		}
		if others := slices.DeleteFunc(slices.Clone(c.Conference), func(id string) bool { return id == c.ID }); len(others) > 0 {
			notes = append(notes, "conference with "+strings.Join(others, ", "))
		}
		if x := c.Transfer; x != nil {
			notes = append(notes, "transfer to "+x.Target+": "+x.State)
		}
		if len(notes) > 0 {
			state += " (" + strings.Join(notes, "; ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Direction, c.Remote, state, c.Codec, formatDuration(c.Duration))
	}
	return tw.Flush()
}

// formatDuration prints whole seconds as "42s", "1m05s" or "2h03m09s".
func formatDuration(s phone.Seconds) string {
	if s < 0 || math.IsNaN(float64(s)) {
		s = 0
	}
	d := time.Duration(math.Min(float64(s), 1e9)) * time.Second
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}
