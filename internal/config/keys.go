package config

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyIndex knows on which line each key of a document is, so that problems found after decoding
// can still name a line. Paths are dotted; the N-th [[account]] table is "account[N]" (from 0), and
// the N-th element of an array value is "key[N]".
type keyIndex struct {
	lines map[string]int
	// passwords are the lines of "password" keys in [[account]] tables, by account index.
	passwords map[int]int
}

// indexKeys walks data with go-toml's AST parser. It stops quietly at a syntax error: the decoder
// reports that one.
func indexKeys(data []byte) *keyIndex {
	idx := &keyIndex{lines: map[string]int{}, passwords: map[int]int{}}
	var p unstable.Parser
	p.Reset(data)
	prefix := ""
	counts := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path, line := idx.key(&p, e.Key(), "", 0)
			if e.Kind == unstable.ArrayTable {
				n := counts[path]
				counts[path]++
				path += "[" + strconv.Itoa(n) + "]"
			}
			prefix = path
			idx.record(path, line)
		case unstable.KeyValue:
			idx.keyValue(&p, prefix, e)
		}
	}
	return idx
}

func (idx *keyIndex) keyValue(p *unstable.Parser, prefix string, kv *unstable.Node) {
	path, line := idx.key(p, kv.Key(), prefix, lineOf(p, kv, 0))
	idx.record(path, line)
	if i, ok := accountIndex(prefix); ok && path == prefix+".password" {
		if _, dup := idx.passwords[i]; !dup {
			idx.passwords[i] = line
		}
	}
	idx.value(p, path, kv.Value(), line)
}

func (idx *keyIndex) value(p *unstable.Parser, path string, v *unstable.Node, line int) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if n := it.Node(); n.Kind == unstable.KeyValue {
				idx.keyValue(p, path, n)
			}
		}
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); i++ {
			n := it.Node()
			elem := path + "[" + strconv.Itoa(i) + "]"
			l := lineOf(p, n, line)
			idx.record(elem, l)
			idx.value(p, elem, n, l)
		}
	}
}

// key joins a (possibly dotted) key to prefix and returns the line of its first part.
func (idx *keyIndex) key(p *unstable.Parser, it unstable.Iterator, prefix string, line int) (string, int) {
	var b strings.Builder
	b.WriteString(prefix)
	first := true
	for it.Next() {
		n := it.Node()
		if first {
			line = lineOf(p, n, line)
			first = false
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(n.Data)
	}
	return b.String(), line
}

func (idx *keyIndex) record(path string, line int) {
	if _, ok := idx.lines[path]; !ok {
		idx.lines[path] = line
	}
}

// has reports whether the document sets path.
func (idx *keyIndex) has(path string) bool {
	_, ok := idx.lines[path]
	return ok
}

// line returns the line of path, or of its nearest recorded parent, or 0.
func (idx *keyIndex) line(path string) int {
	for path != "" {
		if l, ok := idx.lines[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return 0
}

// lineOf returns the line where n starts, or def when n has no position.
func lineOf(p *unstable.Parser, n *unstable.Node, def int) int {
	if n.Raw.Length == 0 {
		return def
	}
	return p.Shape(n.Raw).Start.Line
}

// accountIndex parses "account[N]".
func accountIndex(prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(prefix, "account[")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}
