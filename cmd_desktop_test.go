package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDesktopExec(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/trayphone"}, "/usr/bin/trayphone"},
		{[]string{"/opt/my apps/trayphone", "--home", "/home/a/tp"}, `"/opt/my apps/trayphone" --home /home/a/tp`},
		{[]string{"/x/trayphone", `a"b$c`}, `/x/trayphone "a\\"b\\$c"`},
		{[]string{"/x/100%/trayphone"}, "/x/100%%/trayphone"},
	} {
		if got := desktopExec(tc.argv); got != tc.want {
			t.Errorf("desktopExec(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}

func TestRunKeyCommand(t *testing.T) {
	got := runKeyCommand(`C:\Program Files\trayphone\trayphone.exe`, []string{"--home", `C:\Users\a b\tp\`, `say "hi"`})
	want := `"C:\Program Files\trayphone\trayphone.exe" "--home" "C:\Users\a b\tp\\" "say \"hi\""`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestLaunchAgent(t *testing.T) {
	p := launchAgent("/Applications/trayphone.app/Contents/MacOS/trayphone", []string{"--home", "/Users/a/R&D"})
	for _, want := range []string{"<string>org.trayphone.trayphone</string>",
		"<string>/Applications/trayphone.app/Contents/MacOS/trayphone</string>",
		"<string>/Users/a/R&amp;D</string>", "<key>RunAtLoad</key>\n\t<true/>"} {
		if !strings.Contains(p, want) {
			t.Errorf("plist lacks %q:\n%s", want, p)
		}
	}
	if lint, err := exec.LookPath("xmllint"); err == nil {
		cmd := exec.Command(lint, "--noout", "-")
		cmd.Stdin = strings.NewReader(p)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("xmllint: %v\n%s", err, out)
		}
	}
}

// desktopCmd runs "trayphone args..." in-process with XDG_CONFIG_HOME in dir.
func desktopCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestAutostartXDG(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	home := filepath.Join(t.TempDir(), "tp home")
	entry := filepath.Join(cfg, "autostart", "trayphone.desktop")

	out, errOut, code := desktopCmd(t, "--home", home, "autostart", "on")
	if code != 0 || !strings.Contains(out, entry) {
		t.Fatalf("autostart on: code %d, out %q, err %q; want the path %s", code, out, errOut, entry)
	}
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	for _, want := range []string{"[Desktop Entry]\n", "Type=Application\n",
		"Exec=" + desktopExec([]string{exe, "--home", home}) + "\n", "X-GNOME-Autostart-enabled=true\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("entry lacks %q:\n%s", want, b)
		}
	}
	if v, err := exec.LookPath("desktop-file-validate"); err == nil {
		if out, err := exec.Command(v, entry).CombinedOutput(); err != nil {
			t.Errorf("desktop-file-validate: %v\n%s", err, out)
		}
	}
	if out, _, code := desktopCmd(t, "autostart", "off"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("autostart off: code %d, out %q", code, out)
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Errorf("entry still there after off: %v", err)
	}
	if out, _, code := desktopCmd(t, "autostart", "off"); code != 0 || !strings.Contains(out, "already off") {
		t.Errorf("second autostart off: code %d, out %q", code, out)
	}
	if _, errOut, code := desktopCmd(t, "autostart", "maybe"); code == 0 || !strings.Contains(errOut, "on|off") {
		t.Errorf("autostart maybe: code %d, err %q", code, errOut)
	}
}

func TestContactsImportCommand(t *testing.T) {
	home := t.TempDir()
	vcf := filepath.Join(home, "book.vcf")
	data := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice\r\nIMPP:sip:alice@example.com\r\nCATEGORIES:starred\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n"
	if err := os.WriteFile(vcf, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := desktopCmd(t, "--home", home, "contacts", "import", vcf)
	if code != 0 || !strings.Contains(out, "imported 2 contacts (2 new, 0 updated); 1 favorites") {
		t.Fatalf("import: code %d, out %q, err %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "state", "contacts.json")); err != nil {
		t.Errorf("no address book in the state dir: %v", err)
	}
	out, _, code = desktopCmd(t, "--home", home, "contacts", "import", vcf)
	if code != 0 || !strings.Contains(out, "(0 new, 2 updated)") {
		t.Errorf("re-import: code %d, out %q", code, out)
	}
	out, _, code = desktopCmd(t, "--home", home, "contacts")
	if code != 0 || !strings.Contains(out, "* Alice") || !strings.Contains(out, "+1 555 0100") {
		t.Errorf("contacts list: code %d, out %q", code, out)
	}
	bad := filepath.Join(home, "bad.vcf")
	if err := os.WriteFile(bad, []byte("BEGIN:VCARD\r\nFN:x\r\nBEGIN:VCARD\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := desktopCmd(t, "--home", home, "contacts", "import", bad); code == 0 || !strings.Contains(errOut, "not a vCard file") {
		t.Errorf("bad file: code %d, err %q", code, errOut)
	}
	if _, errOut, code := desktopCmd(t, "--home", home, "contacts", "import", filepath.Join(home, "missing.vcf")); code == 0 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: code %d, err %q", code, errOut)
	}
}
