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

// AutoAnswer holds the [autoanswer] settings: calls answered without the user.
//
//	[autoanswer]
//	accounts = ["work"]                       # every call of these accounts
//	callers = ["sip:mum@example.org", "+4420794600"]  # calls from these callers
//	after = 3                                 # seconds they ring first (default 0)
//	intercom = ["sip:door@example.org"]       # callers whose intercom requests open the line
type AutoAnswer struct {
	Accounts []string `toml:"accounts,omitempty"`
	Callers  []string `toml:"callers,omitempty"`
	After    int      `toml:"after,omitempty"`
	Intercom []string `toml:"intercom,omitempty"`
}

func (p *parser) validateAutoAnswer(c *Config) {
	at := func(path string) int { return p.idx.line(path) }
	a := c.AutoAnswer
	if a.After < 0 || a.After > 600 {
		p.add(at("autoanswer.after"), "autoanswer.after", "%d is not a number of seconds from 0 to 600", a.After)
	}
	ids := map[string]bool{}
	for _, acc := range c.Accounts {
		ids[acc.ID] = true
	}
	for _, id := range a.Accounts {
		if !ids[id] {
			p.add(at("autoanswer.accounts"), "autoanswer.accounts", "no [[account]] has id %q", id)
		}
	}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"autoanswer.callers", a.Callers}, {"autoanswer.intercom", a.Intercom}} {
		for _, v := range list.vals {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, " \t*") && !strings.ContainsAny(v, "0123456789") {
				p.add(at(list.key), list.key, "%q is not a SIP address (user@host) or a phone number", v)
			}
		}
	}
}
