package config

import (
	"strings"
	"unicode"
)

// Hooks holds the [hooks] settings: for each call event, a program and its arguments as a TOML
// list (never a shell string), run with the call's details in its environment:
//
//	[hooks]
//	incoming = ["/usr/local/bin/crm-lookup", "--popup"]
//	ended = ["notify-send", "call over"]
//	timeout = 10
type Hooks struct {
	Incoming []string `toml:"incoming,omitempty"` // a call rings here
	Answered []string `toml:"answered,omitempty"` // a call was answered (either direction)
	Ended    []string `toml:"ended,omitempty"`    // an answered call ended
	Missed   []string `toml:"missed,omitempty"`   // an incoming call ended unanswered
	Message  []string `toml:"message,omitempty"`  // the answering machine took a message
	// Timeout is how many seconds a hook may run before it is killed (0: the default, 10).
	Timeout int `toml:"timeout,omitempty"`
}

// HookEvents lists the [hooks] events in the order they are documented.
var HookEvents = []string{"incoming", "answered", "ended", "missed", "message"}

// Command returns the command of hook event ev (one of HookEvents), nil if none is set.
func (h Hooks) Command(ev string) []string {
	switch ev {
	case "incoming":
		return h.Incoming
	case "answered":
		return h.Answered
	case "ended":
		return h.Ended
	case "missed":
		return h.Missed
	case "message":
		return h.Message
	}
	return nil
}

func (p *parser) validateHooks(c *Config) {
	at := func(path string) int { return p.idx.line(path) }
	for _, ev := range HookEvents {
		key := "hooks." + ev
		argv := c.Hooks.Command(ev)
		if !p.idx.has(key) {
			continue
		}
		switch {
		case len(argv) == 0:
			p.add(at(key), key, "an empty list runs nothing; give the program and its arguments, e.g. [\"/usr/local/bin/lookup\", \"--quiet\"], or remove the line")
		case strings.TrimSpace(argv[0]) == "":
			p.add(at(key), key, "the first element must be the program to run")
		case len(argv) == 1 && strings.ContainsAny(argv[0], " \t") && !strings.ContainsAny(argv[0], "/\\"):
			// "notify-send hello" as one string would look for a program of that name.
			p.add(at(key), key, "%q is one string; write the program and each argument as separate list elements, e.g. %q", argv[0], strings.Fields(argv[0]))
		}
		for i, a := range argv {
			if strings.ContainsFunc(a, func(r rune) bool { return r == 0 || (unicode.IsControl(r) && r != '\t') }) {
				p.add(at(key), key, "element %d has a control character", i+1)
			}
		}
	}
	if t := c.Hooks.Timeout; t < 0 || t > 3600 {
		p.add(at("hooks.timeout"), "hooks.timeout", "%d is not a number of seconds from 1 to 3600", t)
	}
}
