package config

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"trayphone/internal/screen"
)

// validate checks the meaning of every setting and adds a Problem for each one that is wrong.
func (p *parser) validate(c *Config, opts LoadOptions) {
	at := func(path string) int { return p.idx.line(path) }

	if err := checkListen(c.SIP.Listen); err != nil {
		p.add(at("sip.listen"), "sip.listen", "%v", err)
	}
	if c.SIP.RingTimeout < 0 || c.SIP.RingTimeout > 3600 {
		p.add(at("sip.ring_timeout"), "sip.ring_timeout", "%d is not a number of seconds from 1 to 3600", c.SIP.RingTimeout)
	}
	if !validEncryption(c.SIP.MediaEncryption) {
		p.add(at("sip.media_encryption"), "sip.media_encryption", "unknown mode %q (want off, optional or required)", c.SIP.MediaEncryption)
	}
	if strings.ContainsFunc(c.SIP.User, invalidUserRune) {
		p.add(at("sip.user"), "sip.user", "%q is not a SIP user name (no spaces, '@', ':' or ';')", c.SIP.User)
	}

	for _, d := range []struct {
		key string
		val string
	}{{"audio.input", c.Audio.Input}, {"audio.output", c.Audio.Output}, {"audio.ringer", c.Audio.Ringer}} {
		if err := checkDevice(d.val); err != nil {
			p.add(at(d.key), d.key, "%v", err)
		}
	}
	p.validateCodecs(c, opts)
	p.validateTones(c)

	names := make([]string, 0, len(c.Favorites))
	for name := range c.Favorites {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := "favorites." + name
		switch {
		case name == "":
			p.add(at(key), "favorites", "a favorite needs a name")
		case strings.TrimSpace(name) == "":
			p.add(at(key), "favorites", "favorite name %q is blank; give it a name", name)
		case strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }):
			// A quoted key may hold spaces and any printable character ("Front desk"); a tab or a
			// line break would garble the menu and could not be typed on the command line.
			p.add(at(key), "favorites", "favorite name %q has a control or invisible character; use letters, digits, spaces and punctuation", name)
		case strings.TrimSpace(name) != name:
			// "trayphone call" trims what it is given, so such a name could never be called.
			p.add(at(key), "favorites", "favorite name %q starts or ends with a space; write %q", name, strings.TrimSpace(name))
		}
		if err := checkTarget(c.Favorites[name]); err != nil {
			p.add(at(key), key, "%v", err)
		}
	}

	p.validateAccounts(c)
	p.validateHooks(c)
	p.validateForward(c)
	p.validateAutoAnswer(c)
	p.validateScreen(c)
	p.validateVoicemail(c)
}

// validateScreen checks the [[screen]] rules; each problem names the rule by its number.
func (p *parser) validateScreen(c *Config) {
	rules := make([]screen.Rule, len(c.Screen))
	for i, r := range c.Screen {
		rules[i] = screen.Rule{Match: r.Match, Action: screen.Action(r.Action), When: r.When}
	}
	_, errs := screen.Compile(rules)
	for _, e := range errs {
		base := "screen[" + strconv.Itoa(e.Index) + "]"
		p.add(p.idx.line(base+"."+e.Field), "screen."+e.Field, "rule %d: %v", e.Index+1, e.Err)
	}
}

func (p *parser) validateVoicemail(c *Config) {
	v := c.Voicemail
	if v.AnswerAfter < 0 || v.AnswerAfter > 600 {
		p.add(p.idx.line("voicemail.answer_after"), "voicemail.answer_after", "%d is not a number of seconds from 1 to 600", v.AnswerAfter)
	}
	if v.MaxLength < 0 || v.MaxLength > 3600 {
		p.add(p.idx.line("voicemail.max_length"), "voicemail.max_length", "%d is not a number of seconds from 1 to 3600", v.MaxLength)
	}
	if f := v.Greeting; f != "" && !strings.HasSuffix(strings.ToLower(f), ".wav") {
		p.add(p.idx.line("voicemail.greeting"), "voicemail.greeting", "%q is not a .wav file", f)
	}
	ring := c.SIP.RingTimeout
	if ring == 0 {
		ring = 60
	}
	if v.Enabled && v.AnswerAfterOrDefault() >= ring {
		p.add(p.idx.line("voicemail.answer_after"), "voicemail.answer_after", "%d s is not shorter than sip.ring_timeout (%d s): the call would end before the answering machine takes it", v.AnswerAfterOrDefault(), ring)
	}
}

func (p *parser) validateCodecs(c *Config, opts LoadOptions) {
	if len(c.Audio.Codecs) == 0 {
		p.add(p.idx.line("audio.codecs"), "audio.codecs", "list at least one codec")
		return
	}
	seen := map[string]bool{}
	for i, name := range c.Audio.Codecs {
		line := p.idx.line("audio.codecs[" + strconv.Itoa(i) + "]")
		if opts.KnownCodecs != nil {
			j := slices.IndexFunc(opts.KnownCodecs, func(k string) bool { return strings.EqualFold(k, name) })
			if j < 0 {
				p.add(line, "audio.codecs", "unknown codec %q (supported: %s)", name, strings.Join(opts.KnownCodecs, ", "))
				continue
			}
			c.Audio.Codecs[i] = opts.KnownCodecs[j]
			name = opts.KnownCodecs[j]
		}
		if seen[strings.ToUpper(name)] {
			p.add(line, "audio.codecs", "codec %q is listed twice", name)
		}
		seen[strings.ToUpper(name)] = true
	}
}

func (p *parser) validateAccounts(c *Config) {
	ids := map[string]int{} // id → line of its first definition
	for i := range c.Accounts {
		a := &c.Accounts[i]
		base := "account[" + strconv.Itoa(i) + "]"
		at := func(key string) int { return p.idx.line(base + "." + key) }

		if line, ok := p.idx.passwords[i]; ok {
			id := a.ID
			if id == "" {
				id = "ID"
			}
			p.add(line, "account.password", "passwords are not kept in the settings file; remove this line and run \"trayphone account password %s\"", id)
		}
		switch {
		case a.ID == "":
			p.add(p.idx.line(base), "account.id", "every [[account]] needs an id, such as id = \"work\"")
		case strings.ContainsFunc(a.ID, unicode.IsSpace):
			p.add(at("id"), "account.id", "account id %q has a space; use a name without spaces", a.ID)
		default:
			if first, dup := ids[a.ID]; dup {
				p.add(at("id"), "account.id", "duplicate account id %q (first used on line %d)", a.ID, first)
			} else {
				ids[a.ID] = at("id")
			}
		}
		if a.AOR == "" {
			p.add(p.idx.line(base), "account.aor", "every [[account]] needs an aor, such as aor = \"sip:alice@example.com\"")
		} else if err := checkAOR(a.AOR); err != nil {
			p.add(at("aor"), "account.aor", "%v", err)
		}
		if a.Registrar != "" {
			if err := checkSIPURI(a.Registrar, false); err != nil {
				p.add(at("registrar"), "account.registrar", "%v", err)
			}
		}
		if a.OutboundProxy != "" {
			if err := checkSIPURI(a.OutboundProxy, false); err != nil {
				p.add(at("outbound_proxy"), "account.outbound_proxy", "%v", err)
			}
		}
		switch a.Transport {
		case "", "udp", "tcp", "tls":
		default:
			p.add(at("transport"), "account.transport", "unknown transport %q (want udp, tcp or tls)", a.Transport)
		}
		if !validEncryption(a.MediaEncryption) {
			p.add(at("media_encryption"), "account.media_encryption", "unknown mode %q (want off, optional or required)", a.MediaEncryption)
		}
		if a.Voicemail != "" {
			if err := checkVoicemail(a.Voicemail); err != nil {
				p.add(at("voicemail"), "account.voicemail", "%v", err)
			}
		}
		if a.Expires < 0 {
			p.add(at("expires"), "account.expires", "want a number of seconds, 0 or more; got %d", a.Expires)
		}
		if a.Keepalive < 0 || a.Keepalive > 3600 {
			p.add(at("keepalive"), "account.keepalive", "want a number of seconds from 1 to 3600 (0: the default, 5); got %d", a.Keepalive)
		}
	}
}

// checkVoicemail accepts a sip:/sips: URI with a user part, or a number or name to dial in the
// account's domain ("*97", "voicemail").
func checkVoicemail(s string) error {
	l := strings.ToLower(s)
	if strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:") {
		return checkSIPURI(s, true)
	}
	if len(s) > 64 {
		return fmt.Errorf("%q is too long for a number (want a SIP address like sip:*97@pbx.example.com or a number like *97)", s)
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("*#+-_.", r)) {
			return fmt.Errorf("%q is not a SIP address (sip:*97@pbx.example.com) or a number like *97", s)
		}
	}
	return nil
}

// checkListen accepts HOST:PORT where HOST may be empty, an IP address or a host name.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (for example %q)", s, DefaultListen)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostName(host) {
		return fmt.Errorf("%q: %q is not an IP address or host name", s, host)
	}
	return nil
}

// checkDevice accepts "default", "null", "portaudio:NAME" or a path to a .wav file.
func checkDevice(s string) error {
	switch {
	case s == "default", s == "null":
		return nil
	case strings.HasPrefix(s, "portaudio:"):
		if strings.TrimPrefix(s, "portaudio:") == "" {
			return fmt.Errorf("%q needs a device name after \"portaudio:\"", s)
		}
		return nil
	case strings.HasSuffix(strings.ToLower(s), ".wav"):
		return nil
	}
	return fmt.Errorf("%q is not an audio device (want \"default\", \"null\", \"portaudio:NAME\" or a .wav file)", s)
}

// checkTarget accepts what a favorite may call: a sip:, sips: or tel: URI, or "echo".
func checkTarget(s string) error {
	lower := strings.ToLower(s)
	switch {
	case s == "echo":
		return nil
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		return checkSIPURI(s, false)
	case strings.HasPrefix(lower, "tel:"):
		return checkTel(s)
	}
	return fmt.Errorf("%q is not a sip:, sips: or tel: URI or \"echo\"", s)
}

// checkAOR accepts sip:user@host and sips:user@host.
func checkAOR(s string) error {
	return checkSIPURI(s, true)
}

// checkSIPURI checks the shape of a sip: or sips: URI (RFC 3261 section 19.1), not every character.
func checkSIPURI(s string, needUser bool) error {
	lower := strings.ToLower(s)
	var rest string
	switch {
	case strings.HasPrefix(lower, "sip:"):
		rest = s[len("sip:"):]
	case strings.HasPrefix(lower, "sips:"):
		rest = s[len("sips:"):]
	default:
		if needUser {
			return fmt.Errorf("%q is not a SIP address (want sip:user@host)", s)
		}
		return fmt.Errorf("%q is not a sip: or sips: URI", s)
	}
	if i := strings.IndexAny(rest, ";?"); i >= 0 {
		rest = rest[:i]
	}
	hostport := rest
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if i == 0 {
			return fmt.Errorf("%q has an empty user part", s)
		}
		hostport = rest[i+1:]
	} else if needUser {
		return fmt.Errorf("%q has no user part (want sip:user@host)", s)
	}
	if hostport == "" {
		return fmt.Errorf("%q has no host", s)
	}
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
		}
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return fmt.Errorf("%q: %q is not an IP address or host name", s, host)
	}
	return nil
}

// checkTel checks a tel: URI (RFC 3966): a number made of digits and visual separators.
func checkTel(s string) error {
	num := s[len("tel:"):]
	if i := strings.IndexByte(num, ';'); i >= 0 {
		num = num[:i]
	}
	digits := 0
	for _, r := range num {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'D', r >= 'a' && r <= 'd', r == '*', r == '#':
			digits++
		case strings.ContainsRune("+-.() ", r):
		default:
			return fmt.Errorf("%q is not a telephone number", s)
		}
	}
	if digits == 0 {
		return fmt.Errorf("%q has no number", s)
	}
	return nil
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func invalidUserRune(r rune) bool {
	return unicode.IsSpace(r) || r == '@' || r == ':' || r == ';'
}

// ToneRegions are the values audio.tone_region takes besides "" (media/tones.go has their tones).
var ToneRegions = []string{"us", "uk", "eu", "jp", "au"}

func (p *parser) validateTones(c *Config) {
	if r := strings.ToLower(c.Audio.ToneRegion); r != "" {
		if !slices.Contains(ToneRegions, r) {
			p.add(p.idx.line("audio.tone_region"), "audio.tone_region", "unknown tone region %q (supported: %s, or leave it out to follow the locale)",
				c.Audio.ToneRegion, strings.Join(ToneRegions, ", "))
		}
		c.Audio.ToneRegion = r
	}
	if f := c.Audio.Ringtone; f != "" && !strings.HasSuffix(strings.ToLower(f), ".wav") {
		p.add(p.idx.line("audio.ringtone"), "audio.ringtone", "%q is not a .wav file", f)
	}
}

// validEncryption reports whether v is a media_encryption mode ("" is the default, optional).
func validEncryption(v string) bool {
	switch v {
	case "", "off", "optional", "required":
		return true
	}
	return false
}
