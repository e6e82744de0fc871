package contacts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readSample(t *testing.T) []Contact {
	t.Helper()
	f, err := os.Open("testdata/sample.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestParse(t *testing.T) {
	got := readSample(t)
	want := []Contact{
		{Name: "Alice Example", Numbers: []string{"+49 30 1234 5678"}, SIP: []string{"sip:alice@example.com"}, Favorite: true},
		{Name: "Bob Builder", Numbers: []string{"+1-555-0100"}, SIP: []string{"sip:bob@192.168.1.20"}},
		{Name: "Carla Carol", Numbers: []string{"0301112222"}, Favorite: true},
		{Name: "Pizza Place", Numbers: []string{"555 0199"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseError(t *testing.T) {
	_, err := Parse(strings.NewReader("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nBEGIN:VCARD\r\n"))
	if err == nil || !strings.Contains(err.Error(), "vCard 1") {
		t.Errorf("got %v, want an error naming vCard 1", err)
	}
}

func TestName(t *testing.T) {
	b := &Book{Contacts: readSample(t)}
	for _, tc := range []struct{ uri, want string }{
		{"sip:alice@example.com", "Alice Example"},
		{"<sips:ALICE@Example.com:5061;transport=tls>", "Alice Example"},
		{"sip:alice@other.example.com", ""},
		{"sip:+493012345678@pbx.example.com", "Alice Example"},
		{"tel:03012345678", "Alice Example"}, // same last 8 digits
		{"sip:bob@192.168.1.20:5070", "Bob Builder"},
		{"tel:+15550100", "Bob Builder"},
		{"sip:0301112222@pbx", "Carla Carol"},
		{"5550199", "Pizza Place"},
		{"sip:5550198@pbx", ""},
		{"sip:echo@127.0.0.1", ""},
		{"", ""},
	} {
		if got := b.Name(tc.uri); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
	var nilBook *Book
	if got := nilBook.Name("sip:a@b"); got != "" {
		t.Errorf("nil book: got %q", got)
	}
}

func TestFavoritesAndDialTarget(t *testing.T) {
	b := &Book{Contacts: readSample(t)}
	var got []string
	for _, c := range b.Favorites() {
		got = append(got, c.Name+"="+c.DialTarget())
	}
	want := []string{"Alice Example=sip:alice@example.com", "Carla Carol=tel:0301112222"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("favorites %q, want %q", got, want)
	}
	if got := (Contact{Numbers: []string{"+49 (30) 123.45/6"}}).DialTarget(); got != "tel:+4930123456" {
		t.Errorf("DialTarget = %q", got)
	}
}

func TestSaveLoadMerge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	b, err := Load(dir)
	if err != nil || len(b.Contacts) != 0 {
		t.Fatalf("Load of a missing book: %v, %v", b, err)
	}
	cs := readSample(t)
	if a, r := b.Merge(cs); a != 4 || r != 0 {
		t.Errorf("first merge: added %d replaced %d, want 4 0", a, r)
	}
	if a, r := b.Merge([]Contact{{Name: "alice example", Numbers: []string{"1"}}, {Name: "Dave", Numbers: []string{"2"}}}); a != 1 || r != 1 {
		t.Errorf("second merge: added %d replaced %d, want 1 1", a, r)
	}
	if err := b.Save(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b, b2) {
		t.Errorf("round trip: got %+v, want %+v", b2, b)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Errorf("corrupt file: got %v, want an error naming %s", err, FileName)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/sample.vcf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, in []byte) {
		cs, err := Parse(strings.NewReader(string(in)))
		if err != nil {
			return
		}
		b := &Book{Contacts: cs}
		for _, c := range cs {
			if c.Name == "" || c.DialTarget() == "" {
				t.Fatalf("contact without a name or target: %+v", c)
			}
			for _, s := range c.SIP {
				_ = b.Name(s)
			}
		}
	})
}
