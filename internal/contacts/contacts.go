// Package contacts is trayphone's address book: contacts imported from vCard files (RFC 6350, and
// the vCard 3.0 that most address books still export), kept in the state directory, used to name
// callers and to fill the tray's Favorites submenu.
//
// A contact has a name, phone numbers (TEL) and SIP addresses (IMPP:sip:..., X-SIP, or a TEL/URL
// that is a sip: URI). A contact is a favorite when its CATEGORIES include "favorite",
// "favorites" or "starred" (what Google Contacts exports for starred contacts).
package contacts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/emersion/go-vcard"
)

// FileName is the address book's file inside the state directory.
const FileName = "contacts.json"

// maxCards bounds one import, so that a runaway file cannot fill the state directory.
const maxCards = 100000

// Contact is one person or organisation.
type Contact struct {
	Name     string   `json:"name"`
	Numbers  []string `json:"numbers,omitempty"` // phone numbers as written in the vCard
	SIP      []string `json:"sip,omitempty"`     // sip: or sips: URIs
	Favorite bool     `json:"favorite,omitempty"`
}

// DialTarget returns what to dial for c: its first SIP address, else its first number as a tel:
// URI, else "".
func (c Contact) DialTarget() string {
	if len(c.SIP) > 0 {
		return c.SIP[0]
	}
	if len(c.Numbers) > 0 {
		return "tel:" + strings.Map(func(r rune) rune {
			if r == ' ' || r == '(' || r == ')' || r == '.' || r == '/' {
				return -1
			}
			return r
		}, c.Numbers[0])
	}
	return ""
}

// Parse reads every vCard in r. Cards with neither a name nor anything to dial are skipped; a
// syntax error stops the import and names the card it was found in.
func Parse(r io.Reader) ([]Contact, error) {
	dec := vcard.NewDecoder(r)
	var out []Contact
	for n := 1; ; n++ {
		card, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("vCard %d: %w", n, err)
		}
		if n > maxCards {
			return nil, fmt.Errorf("more than %d vCards in one file", maxCards)
		}
		if c, ok := fromCard(card); ok {
			out = append(out, c)
		}
	}
}

func fromCard(card vcard.Card) (Contact, bool) {
	var c Contact
	c.Name = strings.TrimSpace(card.PreferredValue(vcard.FieldFormattedName))
	if c.Name == "" {
		if n := card.Name(); n != nil {
			c.Name = strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{n.GivenName, n.FamilyName},
				func(s string) bool { return s == "" }), " "))
		}
	}
	if c.Name == "" {
		c.Name = strings.TrimSpace(card.PreferredValue(vcard.FieldOrganization))
	}
	addSIP := func(v string) {
		v = strings.TrimSpace(v)
		if l := strings.ToLower(v); (strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:")) &&
			len(v) > 5 && !slices.Contains(c.SIP, v) {
			c.SIP = append(c.SIP, v)
		}
	}
	for _, v := range card.Values(vcard.FieldTelephone) {
		v = strings.TrimSpace(v)
		switch l := strings.ToLower(v); {
		case strings.HasPrefix(l, "sip:"), strings.HasPrefix(l, "sips:"):
			addSIP(v)
		default:
			v = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(v, "tel:"), "TEL:"))
			if i := strings.IndexByte(v, ';'); i >= 0 { // tel: URI parameters (RFC 3966)
				v = v[:i]
			}
			if digits(v) != "" && !slices.Contains(c.Numbers, v) {
				c.Numbers = append(c.Numbers, v)
			}
		}
	}
	for _, k := range []string{vcard.FieldIMPP, "X-SIP", vcard.FieldURL} {
		for _, v := range card.Values(k) {
			if k == "X-SIP" && !strings.Contains(strings.ToLower(v), "sip:") {
				v = "sip:" + strings.TrimSpace(v)
			}
			addSIP(v)
		}
	}
	for _, cat := range card.Categories() {
		switch strings.ToLower(strings.TrimSpace(cat)) {
		case "favorite", "favorites", "favourite", "favourites", "starred":
			c.Favorite = true
		}
	}
	if c.Name == "" {
		switch {
		case len(c.SIP) > 0:
			c.Name = c.SIP[0]
		case len(c.Numbers) > 0:
			c.Name = c.Numbers[0]
		}
	}
	return c, c.Name != "" && (len(c.Numbers) > 0 || len(c.SIP) > 0)
}

// Book is the imported address book. Its zero value is empty and usable.
type Book struct {
	Contacts []Contact `json:"contacts"`
}

// Load reads the address book from the state directory; a missing file is an empty book.
func Load(stateDir string) (*Book, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return &Book{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	var b Book
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("read contacts from %s: %w", filepath.Join(stateDir, FileName), err)
	}
	return &b, nil
}

// Save writes the address book atomically (0600, directory 0700).
func (b *Book) Save(stateDir string) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("encode contacts: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("save contacts: %w", err)
	}
	f, err := os.CreateTemp(stateDir, "."+FileName+".tmp*")
	if err != nil {
		return fmt.Errorf("save contacts: %w", err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(stateDir, FileName))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save contacts: %w", err)
	}
	return nil
}

// Merge adds cs to the book: a contact with the same name (case-insensitive) as one already there
// replaces it. It returns how many were added and how many replaced.
func (b *Book) Merge(cs []Contact) (added, replaced int) {
	for _, c := range cs {
		i := slices.IndexFunc(b.Contacts, func(o Contact) bool { return strings.EqualFold(o.Name, c.Name) })
		if i >= 0 {
			b.Contacts[i] = c
			replaced++
		} else {
			b.Contacts = append(b.Contacts, c)
			added++
		}
	}
	return added, replaced
}

// Favorites returns the favorite contacts that have something to dial, in book order.
func (b *Book) Favorites() []Contact {
	var out []Contact
	for _, c := range b.Contacts {
		if c.Favorite && c.DialTarget() != "" {
			out = append(out, c)
		}
	}
	return out
}

// Name returns the name of the contact that uri (a sip:, sips: or tel: URI, user@host, or a bare
// number) belongs to, or "". A SIP address matches on user@host, ignoring case, the scheme and
// parameters. A number matches on its digits: equal digits, or the same last 8 digits when both
// have at least 8 (so "+49 30 1234 5678" matches "030 12345678").
func (b *Book) Name(uri string) string {
	if b == nil {
		return ""
	}
	user, host := splitURI(uri)
	num := ""
	if isNumber(user) {
		num = digits(user)
	}
	for _, c := range b.Contacts {
		for _, s := range c.SIP {
			if u, h := splitURI(s); host != "" && strings.EqualFold(u, user) && strings.EqualFold(h, host) {
				return c.Name
			}
		}
		if num == "" {
			continue
		}
		for _, n := range c.Numbers {
			if sameNumber(num, digits(n)) {
				return c.Name
			}
		}
		for _, s := range c.SIP {
			if u, _ := splitURI(s); isNumber(u) && sameNumber(num, digits(u)) {
				return c.Name
			}
		}
	}
	return ""
}

// splitURI returns the user and host of "Name <sip:user@host:port;params>", "tel:+1..." or
// "user@host"; host is "" for tel: URIs and bare numbers.
func splitURI(s string) (user, host string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = strings.TrimSuffix(s[i+1:], ">")
	}
	lower := strings.ToLower(s)
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		if strings.HasPrefix(lower, p) {
			s = s[len(p):]
			break
		}
	}
	if i := strings.IndexAny(s, ";?>"); i >= 0 {
		s = s[:i]
	}
	user, host, ok := strings.Cut(s, "@")
	if !ok {
		return user, ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return user, host
}

// isNumber reports whether s looks like a phone number: digits with the usual separators.
func isNumber(s string) bool {
	if digits(s) == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune("+-(). /", r) {
			return false
		}
	}
	return true
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func sameNumber(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	const tail = 8
	return len(a) >= tail && len(b) >= tail && a[len(a)-tail:] == b[len(b)-tail:]
}
