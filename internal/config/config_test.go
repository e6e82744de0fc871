package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var opts = LoadOptions{KnownCodecs: []string{"PCMU", "PCMA", "opus", "G722"}}

const example = `dnd = false
[sip]
listen = "0.0.0.0:5060"     # UDP and TCP
user = "alice"
display_name = "Alice"
allow_direct_calls = true
[audio]
input = "default"
output = "portaudio:USB Headset"
ringer = "/usr/share/sounds/ring.wav"
codecs = ["PCMU", "pcma"]
[favorites]
bob = "sip:bob@192.168.1.20"
echo = "echo"
office = "tel:+1-555-0100"

[[account]]
id = "work"
aor = "sip:alice@example.com"
registrar = "sip:example.com;transport=tcp"
transport = "tcp"
expires = 600

[[account]]
id = "home"
aor = "sips:alice@[2001:db8::1]:5061"
`

func TestParseExample(t *testing.T) {
	t.Parallel()
	c, err := Parse("config.toml", []byte(example), opts)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if got, want := c.Audio.Codecs, []string{"PCMU", "PCMA"}; !reflect.DeepEqual(got, want) {
		t.Errorf("codecs: got %v, want %v", got, want)
	}
	if got, want := c.Favorites["bob"], "sip:bob@192.168.1.20"; got != want {
		t.Errorf("favorite bob: got %q, want %q", got, want)
	}
	if len(c.Accounts) != 2 || c.Accounts[0].Transport != "tcp" || c.Accounts[1].ID != "home" {
		t.Errorf("accounts: got %+v", c.Accounts)
	}
	if !c.DirectCallsAllowed() {
		t.Error("direct calls: got false, want true (set explicitly)")
	}
	if c.UserOrLogin() != "alice" {
		t.Errorf("user: got %q, want alice", c.UserOrLogin())
	}
}

// TestFavoriteNamesWithSpaces: quoted TOML keys name favorites as people write them (issue 15):
// spaces, dots, parentheses, accents.
func TestFavoriteNamesWithSpaces(t *testing.T) {
	t.Parallel()
	doc := "[favorites]\n\"Front desk\" = \"sip:desk@192.0.2.1\"\n\"Dr. Müller (lab)\" = \"sip:mueller@192.0.2.2\"\n"
	c, err := Parse("config.toml", []byte(doc), opts)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	want := map[string]string{"Front desk": "sip:desk@192.0.2.1", "Dr. Müller (lab)": "sip:mueller@192.0.2.2"}
	if !reflect.DeepEqual(c.Favorites, want) {
		t.Errorf("favorites: got %q, want %q", c.Favorites, want)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("config.toml", []byte("[sip]\nuser = \"bob\"\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.SIP.User = "bob"
	if !reflect.DeepEqual(c, d) {
		t.Errorf("got %+v, want %+v", c, d)
	}
	if !c.DirectCallsAllowed() {
		t.Error("direct calls without accounts: got false, want true")
	}
	c.Accounts = []Account{{ID: "a"}}
	if c.DirectCallsAllowed() {
		t.Error("direct calls with an account and no setting: got true, want false")
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	c, err := Load(filepath.Join(t.TempDir(), "nope.toml"), opts)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("got %+v, want defaults", c)
	}
}

func TestLoadNamesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("dnd = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, opts)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1: dnd: ") {
		t.Errorf("got %v, want an error starting with %s:1: dnd:", err, path)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"unknown key", "[sip]\nuser = \"a\"\nlisen = \"x\"\n",
			`config.toml:3: unknown setting "sip.lisen"`},
		{"unknown keys all reported", "foo = 1\n[sip]\nlisen = 1\n[bar]\nx = 2\n",
			`config.toml:1: unknown setting "foo"` + "\n" +
				`config.toml:3: unknown setting "sip.lisen"` + "\n" +
				`config.toml:4: unknown setting "bar"`},
		{"unknown codec", "dnd = true\n\n[audio]\ninput = \"null\"\n\n\ncodecs = [\"PCMU\", \"G729\"]\n",
			`config.toml:7: audio.codecs: unknown codec "G729" (supported: PCMU, PCMA, opus, G722)`},
		{"unknown codec on its own line", "[audio]\ncodecs = [\n  \"PCMU\",\n  \"G729\",\n]\n",
			`config.toml:4: audio.codecs: unknown codec "G729" (supported: PCMU, PCMA, opus, G722)`},
		{"duplicate codec", "[audio]\ncodecs = [\"PCMU\", \"pcmu\"]\n",
			`config.toml:2: audio.codecs: codec "PCMU" is listed twice`},
		{"empty codecs", "[audio]\ncodecs = []\n",
			`config.toml:2: audio.codecs: list at least one codec`},
		{"syntax", "[sip\nlisten = 1\n",
			`config.toml:1: syntax error: expected ']' to close table name`},
		{"duplicate key", "dnd = true\ndnd = false\n",
			`config.toml:2: syntax error: key dnd is already defined`},
		{"type bool", "dnd = 1\n",
			`config.toml:1: dnd: want true or false, got an integer`},
		{"type string", "[sip]\nlisten = 5060\n",
			`config.toml:2: sip.listen: want a string, got an integer`},
		{"type list", "[audio]\ncodecs = \"PCMU\"\n",
			`config.toml:2: audio.codecs: want a list of strings, got a string`},
		{"media encryption", "[sip]\nmedia_encryption = \"maybe\"\n",
			`config.toml:2: sip.media_encryption: unknown mode "maybe" (want off, optional or required)`},
		{"account media encryption", "[[account]]\nid = \"w\"\naor = \"sip:a@example.com\"\nmedia_encryption = \"always\"\n",
			`config.toml:4: account.media_encryption: unknown mode "always" (want off, optional or required)`},
		{"type favorite", "[favorites]\nbob = 3\n",
			`config.toml:2: favorites.bob: want a string, got an integer`},
		{"listen", "[sip]\nlisten = \"5060\"\n",
			`config.toml:2: sip.listen: "5060" is not HOST:PORT (for example "0.0.0.0:5060")`},
		{"listen port", "[sip]\nlisten = \"0.0.0.0:99999\"\n",
			`config.toml:2: sip.listen: "0.0.0.0:99999": port "99999" is not a number from 0 to 65535`},
		{"empty listen", "[sip]\nlisten = \"\"\n",
			`config.toml:2: sip.listen: "" is not HOST:PORT (for example "0.0.0.0:5060")`},
		{"user", "[sip]\nuser = \"a b\"\n",
			`config.toml:2: sip.user: "a b" is not a SIP user name (no spaces, '@', ':' or ';')`},
		{"device", "[audio]\n\noutput = \"speakers\"\n",
			`config.toml:3: audio.output: "speakers" is not an audio device (want "default", "null", "portaudio:NAME" or a .wav file)`},
		{"portaudio name", "[audio]\ninput = \"portaudio:\"\n",
			`config.toml:2: audio.input: "portaudio:" needs a device name after "portaudio:"`},
		{"favorite uri", "[favorites]\nbob = \"http://bob\"\n",
			`config.toml:2: favorites.bob: "http://bob" is not a sip:, sips: or tel: URI or "echo"`},
		{"favorite host", "[favorites]\nbob = \"sip:bob@\"\n",
			`config.toml:2: favorites.bob: "sip:bob@" has no host`},
		{"favorite tel", "[favorites]\nx = \"tel:xyz\"\n",
			`config.toml:2: favorites.x: "tel:xyz" is not a telephone number`},
		{"favorite name control", "[favorites]\n\"bob\\tsmith\" = \"sip:bob@h\"\n",
			`config.toml:2: favorites: favorite name "bob\tsmith" has a control or invisible character; use letters, digits, spaces and punctuation`},
		{"favorite name blank", "[favorites]\n\"  \" = \"sip:bob@h\"\n",
			`config.toml:2: favorites: favorite name "  " is blank; give it a name`},
		{"favorite name padded", "[favorites]\n\" desk\" = \"sip:bob@h\"\n",
			`config.toml:2: favorites: favorite name " desk" starts or ends with a space; write "desk"`},
		{"favorite with spaces, bad uri", "[favorites]\nbob = \"sip:bob@h\"\n\"Front desk\" = \"http://desk\"\n",
			`config.toml:3: favorites.Front desk: "http://desk" is not a sip:, sips: or tel: URI or "echo"`},
		{"favorite name empty", "[favorites]\n\"\" = \"echo\"\n",
			`config.toml:2: favorites: a favorite needs a name`},
		{"account password", "[[account]]\nid = \"work\"\naor = \"sip:a@example.com\"\npassword = \"hunter2\"\n",
			`config.toml:4: account.password: passwords are not kept in the settings file; remove this line and run "trayphone account password work"`},
		{"account aor", "[[account]]\nid = \"work\"\naor = \"alice@example.com\"\n",
			`config.toml:3: account.aor: "alice@example.com" is not a SIP address (want sip:user@host)`},
		{"account aor no user", "[[account]]\nid = \"work\"\naor = \"sip:example.com\"\n",
			`config.toml:3: account.aor: "sip:example.com" has no user part (want sip:user@host)`},
		{"account missing", "[[account]]\ntransport = \"udp\"\n",
			`config.toml:1: account.id: every [[account]] needs an id, such as id = "work"` + "\n" +
				`config.toml:1: account.aor: every [[account]] needs an aor, such as aor = "sip:alice@example.com"`},
		{"account transport", "[[account]]\nid = \"a\"\naor = \"sip:a@b\"\ntransport = \"sctp\"\n",
			`config.toml:4: account.transport: unknown transport "sctp" (want udp, tcp or tls)`},
		{"account expires", "[[account]]\nid = \"a\"\naor = \"sip:a@b\"\nexpires = -1\n",
			`config.toml:4: account.expires: want a number of seconds, 0 or more; got -1`},
		{"account registrar", "[[account]]\nid = \"a\"\naor = \"sip:a@b\"\nregistrar = \"b\"\n",
			`config.toml:4: account.registrar: "b" is not a sip: or sips: URI`},
		{"account duplicate id", "[[account]]\nid = \"a\"\naor = \"sip:a@b\"\n[[account]]\nid = \"a\"\naor = \"sip:a@c\"\n",
			`config.toml:5: account.id: duplicate account id "a" (first used on line 2)`},
		{"account unknown key", "[[account]]\nid = \"a\"\naor = \"sip:a@b\"\nrealm = \"x\"\n",
			`config.toml:4: unknown setting "account.realm"`},
		{"many problems sorted", "[sip]\nlisten = \"x\"\n[audio]\ncodecs = [\"G729\"]\nfoo = 1\n",
			`config.toml:2: sip.listen: "x" is not HOST:PORT (for example "0.0.0.0:5060")` + "\n" +
				`config.toml:4: audio.codecs: unknown codec "G729" (supported: PCMU, PCMA, opus, G722)` + "\n" +
				`config.toml:5: unknown setting "audio.foo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("config.toml", []byte(tt.doc), opts)
			if err == nil {
				t.Fatalf("got config %+v and no error, want %q", c, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("got error type %T, want *config.Error", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSaveRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "trayphone")
	path := filepath.Join(dir, "config.toml")
	c, err := Parse("config.toml", []byte(example), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: got mode %v, want %v", p, got, want)
		}
	}
	got, err := Load(path, opts)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
	// Saving again replaces the file and leaves no temporary files behind.
	c.DND = true
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("got %d files in %s, want 1", len(entries), dir)
	}
	if got, err := Load(path, opts); err != nil || !got.DND {
		t.Errorf("after second save: got %+v, %v; want dnd = true", got, err)
	}
}

func TestSaveDefaults(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("got %+v, want defaults", got)
	}
}

func TestParseMediaEncryption(t *testing.T) {
	t.Parallel()
	doc := "[sip]\nmedia_encryption = \"required\"\nsdes_over_udp = true\n[[account]]\nid = \"w\"\naor = \"sip:a@example.com\"\nmedia_encryption = \"off\"\n"
	c, err := Parse("config.toml", []byte(doc), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.MediaEncryption != "required" || !c.SIP.SDESOverUDP || c.Accounts[0].MediaEncryption != "off" {
		t.Errorf("got sip %+v, account %+v", c.SIP, c.Accounts[0])
	}
	if d := Default(); d.SIP.MediaEncryption != "" || d.SIP.SDESOverUDP {
		t.Errorf("defaults: %+v; want media_encryption unset (optional) and sdes_over_udp off", d.SIP)
	}
}

func TestLoginName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`VM\root`, "root"}, // Windows (seen under Wine): DOMAIN\user
		{`CORP\alice`, "alice"},
		{"alice", "alice"},
		{"", ""},
		{`trailing\`, ""},
	} {
		if got := loginName(c.in); got != c.want {
			t.Errorf("loginName(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}
