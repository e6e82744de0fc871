package config

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Problem is one thing wrong in a settings file.
type Problem struct {
	Line    int    // 1-based; 0 when unknown
	Field   string // dotted setting name such as "audio.codecs"; "" when the problem is not about one
	Message string
}

// Error lists every problem found in one settings file. Its message has one line per problem:
//
//	config.toml:7: audio.codecs: unknown codec "G729" (supported: PCMU, PCMA)
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// parser collects the problems of one Parse call.
type parser struct {
	name     string
	idx      *keyIndex
	problems []Problem
}

func (p *parser) add(line int, field, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(p.problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return &Error{File: p.name, Problems: p.problems}
}

// unknown reports settings the program does not know. A password in an [[account]] is reported by
// validate with advice instead.
func (p *parser) unknown(e *toml.StrictMissingError) {
	for i := range e.Errors {
		de := &e.Errors[i]
		key := de.Key()
		if len(key) == 2 && key[0] == "account" && key[1] == "password" {
			continue
		}
		line, _ := de.Position()
		p.add(line, "", "unknown setting %q", strings.Join(key, "."))
	}
}

var (
	tomlKindRe = regexp.MustCompile(`TOML (\w+)`)
	goTypeRe   = regexp.MustCompile(`of type (\S+)$`)
)

// decodeError turns go-toml's syntax and type errors into a Problem in plain words.
func (p *parser) decodeError(e *toml.DecodeError) {
	line, _ := e.Position()
	msg := strings.TrimPrefix(e.Error(), "toml: ")
	field := strings.Join(e.Key(), ".")
	if !strings.HasPrefix(msg, "cannot decode") {
		p.add(line, "", "syntax error: %s", msg)
		return
	}
	got := "a different kind of value"
	if m := tomlKindRe.FindStringSubmatch(msg); m != nil {
		got = article(m[1])
	}
	want := "a different kind of value"
	if m := goTypeRe.FindStringSubmatch(msg); m != nil {
		want = describeGoType(m[1])
	} else if strings.HasSuffix(msg, "into string") {
		want = "a string"
	}
	p.add(line, field, "want %s, got %s", want, got)
}

func article(kind string) string {
	switch kind {
	case "integer", "array", "inline", "InlineTable":
		if kind == "InlineTable" || kind == "inline" {
			return "a table"
		}
		return "an " + kind
	case "":
		return "a value"
	}
	return "a " + strings.ToLower(kind)
}

func describeGoType(t string) string {
	switch {
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "int"):
		return "a whole number"
	case t == "[]string":
		return "a list of strings"
	case strings.HasPrefix(t, "[]"):
		return "a list of tables"
	case strings.HasPrefix(t, "*bool"):
		return "true or false"
	}
	return "a table"
}
