package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/siptest/baresip"
	"trayphone/internal/testenv"
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
		"<string>/Users/a/R&amp;D</string>", "<key>RunAtLoad</key>\n\t<true/>",
		"<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>"} {
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
		"Exec=" + desktopExec([]string{exe, "--supervise", "--home", home}) + "\n", "X-GNOME-Autostart-enabled=true\n"} {
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

// TestLinkOpensRunningPhone installs the desktop entry with scripts/desktop_install.sh into a
// private XDG home and opens a sip: link with xdg-open, as a browser would: the handler (a second
// trayphone) forwards the link to the running phone, which calls a real baresip.
func TestLinkOpensRunningPhone(t *testing.T) {
	xdgOpen := testenv.RequireProgram(t, "xdg-open")
	testenv.RequireProgram(t, "xdg-mime")
	bob := baresip.Start(t, baresip.Options{User: "bob"})
	root := t.TempDir()
	env := []string{"HOME=" + root + "/home", "XDG_DATA_HOME=" + root + "/data", "XDG_CONFIG_HOME=" + root + "/config",
		"XDG_STATE_HOME=" + root + "/state", "XDG_RUNTIME_DIR=" + root + "/run", "XDG_DATA_DIRS=/usr/share",
		// xdg-open 1.1 uses the desktop entries only with a display; nothing here talks to it.
		"DISPLAY=:987", "WAYLAND_DISPLAY=", "XDG_CURRENT_DESKTOP=", "DESKTOP_SESSION=", "DBUS_SESSION_BUS_ADDRESS=", "TRAYPHONE_BIN=" + binary}
	env = append(os.Environ(), env...)
	for _, d := range []string{"home", "run", "config/trayphone"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Bob is a favorite: a link to him dials at once (a stranger's waits for confirmation).
	cfg := fmt.Sprintf("[sip]\nuser = \"alice\"\n\n[favorites]\nbob = %q\n", bob.URI())
	if err := os.WriteFile(filepath.Join(root, "config/trayphone/config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	install := exec.Command("scripts/desktop_install.sh")
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("desktop_install.sh: %v\n%s", err, out)
	}
	query := exec.Command("xdg-mime", "query", "default", "x-scheme-handler/sip")
	query.Env = env
	if out, err := query.Output(); err != nil || strings.TrimSpace(string(out)) != "trayphone.desktop" {
		t.Fatalf("xdg-mime query default x-scheme-handler/sip: %q, %v", out, err)
	}

	phone := exec.Command(binary, "--headless", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--audio-in", "null", "--audio-out", "null")
	phone.Env = env
	var log testenv.Buffer
	phone.Stdout, phone.Stderr = &log, &log
	if err := phone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = phone.Process.Signal(syscall.SIGINT)
		_ = phone.Wait()
		if t.Failed() {
			t.Logf("trayphone log:\n%s", log.String())
		}
	})
	sock := filepath.Join(root, "run", "trayphone", "control.sock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no control socket at %s", sock)
		}
	}
	open := exec.Command(xdgOpen, bob.URI())
	open.Env = env
	if out, err := open.CombinedOutput(); err != nil {
		t.Fatalf("xdg-open %s: %v\n%s", bob.URI(), err, out)
	}
	if _, err := bob.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "trayphone is ready"); n != 1 {
		t.Errorf("%d phones started, want the link forwarded to the one running", n)
	}
}

// TestPackagingFiles checks the link-handler registrations in packaging/: the XDG desktop entry
// (validated by desktop-file-validate), the macOS Info.plist snippet and the Windows .reg file.
func TestPackagingFiles(t *testing.T) {
	entry := "packaging/linux/trayphone.desktop"
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nExec=trayphone %u\n", "\nMimeType=x-scheme-handler/sip;x-scheme-handler/sips;x-scheme-handler/tel;\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", entry, want)
		}
	}
	validate := testenv.RequireProgram(t, "desktop-file-validate")
	if out, err := exec.Command(validate, entry).CombinedOutput(); err != nil {
		t.Errorf("desktop-file-validate %s: %v\n%s", entry, err, out)
	}

	// macOS's URL types are in the app's Info.plist: TestMacInfoPlist.

	b, err = os.ReadFile("packaging/windows/trayphone-url.reg")
	if err != nil {
		t.Fatal(err)
	}
	reg := string(b)
	if !strings.HasPrefix(reg, "Windows Registry Editor Version 5.00\r\n") {
		t.Error("trayphone-url.reg: wrong header or not CRLF")
	}
	for _, s := range []string{"sip", "sips", "tel"} {
		for _, want := range []string{`[HKEY_CURRENT_USER\Software\Classes\` + s + "]\r\n", `[HKEY_CURRENT_USER\Software\Classes\` + s + `\shell\open\command]` + "\r\n" + `@="\"C:\\Program Files\\trayphone\\trayphone.exe\" \"%1\""`} {
			if !strings.Contains(reg, want) {
				t.Errorf("trayphone-url.reg lacks %q", want)
			}
		}
	}
}

func TestLinkRegistry(t *testing.T) {
	t.Parallel()
	exe := `C:\Program Files\trayphone\trayphone.exe`
	got := linkRegistry(exe, linkArgs([]string{"--supervise", "--home", `C:\Users\a b\tp`}))
	want := map[string]string{
		`Software\Classes\sip\`:                     "URL:SIP link",
		`Software\Classes\sip\URL Protocol`:         "",
		`Software\Classes\sip\DefaultIcon\`:         `"C:\Program Files\trayphone\trayphone.exe",0`,
		`Software\Classes\sip\shell\open\command\`:  `"C:\Program Files\trayphone\trayphone.exe" "--home" "C:\Users\a b\tp" "%1"`,
		`Software\Classes\sips\`:                    "URL:SIPS link",
		`Software\Classes\tel\shell\open\command\`:  `"C:\Program Files\trayphone\trayphone.exe" "--home" "C:\Users\a b\tp" "%1"`,
		`Software\Classes\sips\shell\open\command\`: `"C:\Program Files\trayphone\trayphone.exe" "--home" "C:\Users\a b\tp" "%1"`,
		`Software\Classes\tel\URL Protocol`:         "",
	}
	have := map[string]string{}
	for _, v := range got {
		have[v.Key+`\`+v.Name] = v.Value
	}
	if len(got) != 12 {
		t.Errorf("got %d values, want 12 (4 per scheme)", len(got))
	}
	for k, v := range want {
		if g, ok := have[k]; !ok || g != v {
			t.Errorf("%s: got %q (present %v), want %q", k, g, ok, v)
		}
	}
	// Without --home the link follows the exe directly.
	plain := linkRegistry(exe, linkArgs([]string{"--supervise"}))
	if c := plain[3].Value; c != `"C:\Program Files\trayphone\trayphone.exe" "%1"` {
		t.Errorf("open command without --home: %s", c)
	}
}

// TestMacInfoPlist reads the app bundle's Info.plist (packaging/macos/Info.plist, which
// scripts/build_macos.sh copies): a menu-bar-only app that macOS asks to open sip:, sips: and
// tel: links, with the text of the microphone prompt.
func TestMacInfoPlist(t *testing.T) {
	t.Parallel()
	f, err := os.Open("packaging/macos/Info.plist")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Walk the XML: remember the last <key>, record the value after it (a string or a boolean
	// element), and collect every <string> inside CFBundleURLSchemes' array.
	dec := xml.NewDecoder(f)
	dec.Strict = false
	values := map[string]string{}
	var schemes []string
	var key, inArray string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			text.Reset()
			switch e.Name.Local {
			case "true", "false":
				values[key] = e.Name.Local
			case "array":
				inArray = key
			}
		case xml.CharData:
			text.Write(e)
		case xml.EndElement:
			switch e.Name.Local {
			case "key":
				key = text.String()
			case "string":
				if inArray == "CFBundleURLSchemes" {
					schemes = append(schemes, text.String())
				} else {
					values[key] = text.String()
				}
			case "array":
				inArray = ""
			}
		}
	}
	for k, want := range map[string]string{"LSUIElement": "true", "CFBundleExecutable": "trayphone",
		"CFBundleIdentifier": autostartLabel, "CFBundleIconFile": "trayphone", "CFBundlePackageType": "APPL"} {
		if values[k] != want {
			t.Errorf("%s: got %q, want %q", k, values[k], want)
		}
	}
	if values["NSMicrophoneUsageDescription"] == "" {
		t.Error("no NSMicrophoneUsageDescription: macOS would end the phone when it opens the microphone")
	}
	if !slices.Equal(schemes, []string{"sip", "sips", "tel"}) {
		t.Errorf("CFBundleURLSchemes: got %q, want sip, sips, tel", schemes)
	}
}
