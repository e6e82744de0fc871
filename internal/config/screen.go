package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// AddScreenRule puts rule first among the [[screen]] rules of the settings file at path, editing
// the text so that the user's comments and layout stay as they are: the new table goes just
// before the first [[screen]] table, or at the end of the file when there is none. The file
// must be valid before, is checked again after (the new rule first, the others unchanged), and
// is replaced atomically (0600). A missing file is created with the rule alone.
func AddScreenRule(path string, rule ScreenRule, note string, opts LoadOptions) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read settings: %w", err)
	}
	old, err := Parse(path, data, opts)
	if err != nil {
		return fmt.Errorf("the settings file has problems; fix them first:\n%w", err)
	}
	var block bytes.Buffer
	if note != "" {
		fmt.Fprintf(&block, "# %s\n", strings.ReplaceAll(note, "\n", " "))
	}
	block.WriteString("[[screen]]\n")
	fmt.Fprintf(&block, "match = %s\n", quote(rule.Match))
	fmt.Fprintf(&block, "action = %s\n", quote(rule.Action))
	if rule.When != "" {
		fmt.Fprintf(&block, "when = %s\n", quote(rule.When))
	}
	var out []byte
	if len(old.Screen) > 0 && old.Screen[0].Line > 0 {
		lines := bytes.SplitAfter(data, []byte("\n"))
		at := old.Screen[0].Line - 1
		if at >= len(lines) || !bytes.HasPrefix(bytes.TrimSpace(lines[at]), []byte("[[")) {
			return fmt.Errorf("cannot add a rule to %s by itself: the [[screen]] rules are not written as [[screen]] tables; add it by hand:\n%s", path, block.String())
		}
		block.WriteString("\n")
		out = append(out, bytes.Join(lines[:at], nil)...)
		out = append(out, block.Bytes()...)
		out = append(out, bytes.Join(lines[at:], nil)...)
	} else {
		out = append(out, data...)
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		if len(out) > 0 {
			out = append(out, '\n')
		}
		out = append(out, block.Bytes()...)
	}
	now, err := Parse(path, out, opts)
	if err != nil {
		return fmt.Errorf("cannot add a rule to %s by itself (%v); add it by hand:\n%s", path, err, block.String())
	}
	strip := func(rs []ScreenRule) []ScreenRule {
		out := slices.Clone(rs)
		for i := range out {
			out[i].Line = 0
		}
		return out
	}
	want := append([]ScreenRule{{Match: rule.Match, Action: rule.Action, When: rule.When}}, strip(old.Screen)...)
	if !slices.Equal(strip(now.Screen), want) {
		return fmt.Errorf("cannot add a rule to %s by itself: the edited file would not read back as intended; add it by hand:\n%s", path, block.String())
	}
	return writeAtomic(path, out)
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
