package config

import "strings"

// Forward holds the [forward] settings: where incoming calls go instead of ringing here, with
// 302 Moved Temporarily.
//
//	[forward]
//	mode = "noanswer"                  # "off" (default), "always", "busy" or "noanswer"
//	target = "sip:desk@example.org"    # a SIP URI or a favorite's name
//	after = 20                         # seconds of ringing before "noanswer" forwards
type Forward struct {
	Mode   string `toml:"mode,omitempty"`
	Target string `toml:"target,omitempty"`
	After  int    `toml:"after,omitempty"`
}

func (p *parser) validateForward(c *Config) {
	at := func(path string) int { return p.idx.line(path) }
	f := c.Forward
	switch f.Mode {
	case "", "off":
		return
	case "always", "busy":
	case "noanswer":
		if f.After < 1 || f.After > 600 {
			p.add(at("forward.after"), "forward.after", "%d is not a number of seconds from 1 to 600 (how long a call rings before it is forwarded)", f.After)
		}
	default:
		p.add(at("forward.mode"), "forward.mode", "unknown mode %q (want off, always, busy or noanswer)", f.Mode)
		return
	}
	if strings.TrimSpace(f.Target) == "" {
		p.add(at("forward.mode"), "forward.target", "forwarding %s needs a target: a SIP address like sip:desk@example.org or a favorite's name", f.Mode)
	}
}
