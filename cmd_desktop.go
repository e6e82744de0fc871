package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"trayphone/control"
	"trayphone/internal/contacts"
	"trayphone/internal/paths"
)

// desktopCommands are the commands that set up trayphone on the desktop; they work without a
// running phone.
var desktopCommands = [][2]string{
	{"autostart on|off", "start trayphone at login (or stop doing so)"},
	{"contacts import FILE.vcf", "import vCard contacts for caller names and favorites"},
	{"contacts", "list the imported contacts"},
	{"register-links", "Windows: start at login and open sip:, sips: and tel: links (for this user)"},
	{"unregister-links", "Windows: undo register-links"},
}

// isDesktopCommand reports whether cmd is one of desktopCommands.
func isDesktopCommand(cmd string) bool {
	return cmd == "autostart" || cmd == "contacts" || cmd == "register-links" || cmd == "unregister-links"
}

// printDesktopUsage adds the desktop commands to the usage text.
func printDesktopUsage(w io.Writer) {
	for _, c := range desktopCommands {
		usageLine(w, c[0], c[1])
	}
}

// runDesktopCommand runs "autostart ..." or "contacts ..." and returns the exit code.
func runDesktopCommand(args []string, p paths.Paths, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "trayphone: "+format+"\n", a...)
		return 1
	}
	switch {
	case args[0] == "autostart" && len(args) == 2 && (args[1] == "on" || args[1] == "off"):
		exe, launch, err := launchCommand(p)
		if err != nil {
			return fail("autostart: %v", err)
		}
		if args[1] == "on" {
			where, err := autostartOn(exe, launch)
			if err != nil {
				return fail("autostart: %v", err)
			}
			fmt.Fprintf(stdout, "trayphone will start at login (%s)\n", where)
			return 0
		}
		where, existed, err := autostartOff()
		if err != nil {
			return fail("autostart: %v", err)
		}
		if !existed {
			fmt.Fprintf(stdout, "autostart was already off (%s)\n", where)
		} else {
			fmt.Fprintf(stdout, "trayphone will no longer start at login (removed %s)\n", where)
		}
		return 0
	case args[0] == "autostart":
		return fail("usage: trayphone autostart on|off")
	case (args[0] == "register-links" || args[0] == "unregister-links") && len(args) == 1:
		return runLinks(args[0] == "register-links", p, stdout, stderr) // links.go
	case args[0] == "register-links" || args[0] == "unregister-links":
		return fail("usage: trayphone %s (it takes no arguments; --home is remembered)", args[0])
	case args[0] == "contacts" && len(args) == 3 && args[1] == "import":
		return importContacts(args[2], p, stdout, stderr)
	case args[0] == "contacts" && (len(args) == 1 || len(args) == 2 && args[1] == "list"):
		book, err := contacts.Load(p.State)
		if err != nil {
			return fail("%v", err)
		}
		if len(book.Contacts) == 0 {
			fmt.Fprintln(stdout, "no contacts; import some with: trayphone contacts import FILE.vcf")
			return 0
		}
		for _, c := range book.Contacts {
			star := " "
			if c.Favorite {
				star = "*"
			}
			fmt.Fprintf(stdout, "%s %-30s %s\n", star, c.Name, strings.Join(append(append([]string{}, c.SIP...), c.Numbers...), ", "))
		}
		return 0
	default:
		return fail("usage: trayphone contacts import FILE.vcf | trayphone contacts [list]")
	}
}

// launchCommand returns the installed executable and the arguments a login item starts it with:
// --supervise (restart after a crash, supervise.go) and the --home directory when one is used.
func launchCommand(p paths.Paths) (exe string, launch []string, err error) {
	exe, err = os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("cannot tell where trayphone is installed: %w", err)
	}
	if e, err := filepath.EvalSymlinks(exe); err == nil {
		exe = e
	}
	launch = []string{"--supervise"}
	if p.Home != "" {
		home, err := filepath.Abs(p.Home)
		if err != nil {
			return "", nil, err
		}
		launch = append(launch, "--home", home)
	}
	return exe, launch, nil
}

// importContacts merges the vCards in file into the address book in p.State and tells a running
// phone to reload it ("contacts.reload").
func importContacts(file string, p paths.Paths, stdout, stderr io.Writer) int {
	stateDir := p.State
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: contacts import: %v\n", err)
		return 1
	}
	defer f.Close()
	cs, err := contacts.Parse(f)
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: contacts import: %s is not a vCard file trayphone can read: %v\n", file, err)
		return 1
	}
	if len(cs) == 0 {
		fmt.Fprintf(stderr, "trayphone: contacts import: %s has no contacts with a phone number or SIP address\n", file)
		return 1
	}
	book, err := contacts.Load(stateDir)
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: contacts import: %v\n", err)
		return 1
	}
	added, replaced := book.Merge(cs)
	if err := book.Save(stateDir); err != nil {
		fmt.Fprintf(stderr, "trayphone: contacts import: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "imported %d contacts (%d new, %d updated); %d favorites; %d contacts in all\n",
		len(cs), added, replaced, len(book.Favorites()), len(book.Contacts))
	c, err := control.Dial(p.Socket)
	if err != nil {
		return 0 // no phone running: it reads them when it starts
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got struct {
		Contacts int `json:"contacts"`
	}
	if err := c.Do(ctx, "contacts.reload", nil, &got); err != nil {
		fmt.Fprintf(stderr, "trayphone: the running phone did not reload its contacts (%v); restart it to use them\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "the running phone now knows %d contacts\n", got.Contacts)
	return 0
}

// autostartLabel names the login item on every system.
const autostartLabel = "org.trayphone.trayphone"

// desktopExec quotes argv for an Exec key: arguments with reserved characters are double-quoted
// with `"`, "`", "$" and "\" backslash-escaped, "%" is doubled, and then every backslash is
// doubled again because Exec is itself a string value.
func desktopExec(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`=") {
			a = `"` + strings.NewReplacer(`"`, `\"`, "`", "\\`", `$`, `\$`, `\`, `\\`).Replace(a) + `"`
		}
		out[i] = strings.ReplaceAll(a, `\`, `\\`)
	}
	return strings.Join(out, " ")
}

// launchAgent is the macOS LaunchAgent property list running exe args at login.
func launchAgent(exe string, args []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + autostartLabel + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{exe}, args...) {
		b.WriteString("\t\t<string>" + xmlEscape(a) + "</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>10</integer>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
</dict>
</plist>
`)
	return b.String()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// runKeyCommand is the command line stored under HKCU\...\Run: every argument double-quoted with
// Windows command-line rules (backslashes before a quote doubled).
func runKeyCommand(exe string, args []string) string {
	out := make([]string, 0, 1+len(args))
	for _, a := range append([]string{exe}, args...) {
		var b strings.Builder
		b.WriteByte('"')
		slashes := 0
		for _, r := range a {
			switch r {
			case '\\':
				slashes++
				continue
			case '"':
				b.WriteString(strings.Repeat(`\`, 2*slashes+1))
			default:
				b.WriteString(strings.Repeat(`\`, slashes))
			}
			slashes = 0
			b.WriteRune(r)
		}
		b.WriteString(strings.Repeat(`\`, 2*slashes))
		b.WriteByte('"')
		out = append(out, b.String())
	}
	return strings.Join(out, " ")
}
