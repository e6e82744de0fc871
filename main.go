// Command trayphone is a system-tray SIP softphone. Run without a command it starts the phone (in
// the tray when a desktop has one, headless otherwise); with a command (call, answer, hangup,
// status, ...) it drives the running phone over its per-user control socket.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"trayphone/control"
	"trayphone/internal/paths"
)

// options are the global flags.
type options struct {
	home     string
	listen   string
	headless bool
	audioIn  string
	audioOut string
	logLevel string
	dial     string // a URI given on the command line: dial it once running
	// supervise restarts the phone when it fails (supervise.go; the autostart entries use it).
	supervise bool
	// appServer runs the phone as a voice application server (app.go), with up to maxCalls
	// calls (0: the default).
	appServer bool
	maxCalls  int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var o options
	if err := checkLinkArgs(args); err != nil { // app_link.go
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 2
	}
	// --home and --listen work anywhere on the line, also after a client command.
	args = extractFlag(args, "home", &o.home)
	args = extractFlag(args, "listen", &o.listen)

	fs := flag.NewFlagSet("trayphone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.headless, "headless", false, "run without the tray icon, as a background daemon")
	fs.StringVar(&o.audioIn, "audio-in", "", `microphone: "default", "portaudio:NAME", "null" or FILE.wav (played in real time)`)
	fs.StringVar(&o.audioOut, "audio-out", "", `speaker: "default", "portaudio:NAME", "null" or FILE.wav (records what would be played)`)
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.appServer, "app-server", false, "run as a voice application server: no tray, notifications or sound card (null audio unless --audio-in/--audio-out), every call independent (none is held for another)")
	fs.IntVar(&o.maxCalls, "max-calls", 0, "calls at once, more get 486 Busy Here (default 4, or 100 with --app-server)")
	fs.BoolVar(&o.supervise, "supervise", false, "run the phone and start it again when it fails (autostart entries use this)")
	var home, listen string
	fs.StringVar(&home, "home", "", "keep config, state and control socket in DIR instead of the XDG directories")
	fs.StringVar(&listen, "listen", "", "SIP address HOST:PORT for UDP and TCP (default from config, 0.0.0.0:5060)")
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	p := paths.Resolve(o.home)
	rest := fs.Args()
	if len(rest) == 0 {
		if o.supervise {
			var child []string
			for _, a := range args {
				if a != "--supervise" && a != "-supervise" {
					child = append(child, a)
				}
			}
			if o.home != "" {
				child = append([]string{"--home", o.home}, child...)
			}
			if o.listen != "" {
				child = append([]string{"--listen", o.listen}, child...)
			}
			return supervise(child, stderr)
		}
		return runPhone(o, p, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd := rest[0]; {
	case cmd == "help":
		usage(stdout, fs)
		return 0
	case cmd == "devices":
		return runDevices(rest[1:], stdout, stderr) // cmd_devices.go
	case isDesktopCommand(cmd): // autostart, contacts: cmd_desktop.go
		return runDesktopCommand(rest, p, stdout, stderr)
	case cmd == "account": // password, trust: app_accounts.go
		return runAccountCommand(ctx, p, rest[1:], os.Stdin, stdout, stderr)
	case cmd == "turn": // password: app_nat.go
		return runTURNCommand(p, rest[1:], os.Stdin, stdout, stderr)
	case control.IsClientCommand(cmd):
		return control.RunCLI(ctx, p.Socket, rest, stdout, stderr)
	case isDialable(cmd) && len(rest) == 1:
		// "trayphone sip:bob@example.org" (a clicked link): hand it to the running phone, or
		// start the phone and give it the link. Either way a stranger's number is only called
		// after the user confirms (app_link.go).
		if c, err := control.Dial(p.Socket); err == nil {
			defer c.Close()
			var res linkResult
			if err := c.Do(ctx, linkCommand, map[string]string{"target": cmd}, &res); err != nil {
				fmt.Fprintf(stderr, "trayphone: %v\n", err)
				return 1
			}
			if !res.Dialled {
				fmt.Fprintf(stdout, "confirm the call to %s in the notification\n", cmd)
			}
			return 0
		}
		o.dial = cmd
		return runPhone(o, p, stderr)
	default:
		fmt.Fprintf(stderr, "trayphone: unknown command %q (try \"trayphone help\")\n", cmd)
		return 2
	}
}

// isDialable reports whether s is a URI a desktop link handler passes us.
func isDialable(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:") || strings.HasPrefix(l, "tel:")
}

// extractFlag removes --name VALUE / --name=VALUE (one or two dashes) from args wherever it is and
// stores the value.
func extractFlag(args []string, name string, dst *string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				*dst = args[i+1]
				i++
				goto next
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				*dst = v
				goto next
			}
		}
		out = append(out, a)
	next:
	}
	return out
}

// usageLine prints one command of the usage text: the command, then its summary in a column, or
// on the next line when the command is too wide for the column.
func usageLine(w io.Writer, cmd, summary string) {
	const col = 28
	if len(cmd) > col {
		fmt.Fprintf(w, "  %s\n  %-*s %s\n", cmd, col, "", summary)
		return
	}
	fmt.Fprintf(w, "  %-*s %s\n", col, cmd, summary)
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `trayphone — a system-tray SIP softphone

Usage:
  trayphone [flags]                 start the phone (tray, or headless without a desktop)
  trayphone [flags] COMMAND [args]  drive the running phone
  trayphone SIP-URI                 call a sip:/sips:/tel: link (starts the phone if needed)

Commands:
`)
	for _, c := range control.ClientCommands() {
		usageLine(w, c[0], c[1])
	}
	usageLine(w, "devices [--json]", "list audio devices (names for audio.input, audio.output, audio.ringer)")
	printDesktopUsage(w)
	printAccountUsage(w) // app_accounts.go
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}
