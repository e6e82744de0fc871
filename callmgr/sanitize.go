package callmgr

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameRunes caps a caller's display name: it is shown in a notification and the tray menu.
const maxNameRunes = 64

// cleanName makes a caller-supplied display name safe to show (issue 14): control characters
// (newlines, escape sequences) become spaces, bidirectional overrides and isolates (which can
// make "moc.knab" read as "bank.com") and invalid UTF-8 are dropped, runs of spaces shrink to
// one, and the result is capped at maxNameRunes runes with an ellipsis.
func cleanName(s string) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		switch {
		case r == utf8.RuneError, isBidiControl(r):
			continue
		case unicode.IsControl(r), unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		need := 1 // runes this one adds, with the pending space
		if space {
			need = 2
		}
		if n+need > maxNameRunes {
			b.WriteRune('…')
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// isBidiControl reports the Unicode bidirectional formatting characters (UAX #9): embeddings and
// overrides U+202A-U+202E, isolates U+2066-U+2069, and the marks U+200E, U+200F, U+061C.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}
