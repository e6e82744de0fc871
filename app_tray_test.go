package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"trayphone/internal/audiotest"
	"trayphone/internal/config"
	"trayphone/internal/contacts"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/siptest/dbustest"
	"trayphone/internal/testenv"
)

// TestDesktopTrayAndNotifications runs the real trayphone binary on a private session bus with a
// StatusNotifierWatcher and a notification server: a favorite clicked in the tray menu calls a
// real baresip; a second "trayphone sip:..." launch forwards the URI to the running phone; calls
// from baresip notify with Answer/Decline buttons that work; a cancelled call closes its
// notification and leaves a missed-call one; Quit shuts the phone down cleanly.
func TestDesktopTrayAndNotifications(t *testing.T) {
	addr := dbustest.StartBus(t)
	conn := dbustest.Connect(t, addr)
	w := dbustest.StartWatcher(t, conn)
	notes := dbustest.StartNotifServer(t, addr, true)

	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1000})

	home := t.TempDir()
	in := filepath.Join(home, "in.wav")
	if err := audiotest.WriteTone(in, 600, 0.5, 8000, 60); err != nil {
		t.Fatal(err)
	}
	heard := filepath.Join(home, "heard.wav")
	cfg := fmt.Sprintf("[sip]\nuser = \"alice\"\n\n[favorites]\nBob = %q\n", bob.URI())
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	book := &contacts.Book{Contacts: []contacts.Contact{
		{Name: "Carol Contact", SIP: []string{"sip:carol@192.0.2.1"}, Favorite: true},
		{Name: "Dave NotFavorite", Numbers: []string{"+1 555 0100"}},
	}}
	if err := book.Save(filepath.Join(home, "state")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	self := fmt.Sprintf("sip:alice@127.0.0.1:%d", port)
	cmd := exec.Command(binary, "--home", home, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--audio-in", in, "--audio-out", heard)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "DISPLAY=", "WAYLAND_DISPLAY=")
	var log testenv.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // returns when the phone exits (Quit, or killed below)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("trayphone log:\n%s", log.String())
		}
	})

	var item string
	select {
	case item = <-w.Items:
	case <-time.After(15 * time.Second):
		t.Fatal("trayphone registered no StatusNotifierItem")
	}
	sender, _, _ := strings.Cut(item, "/")
	menu := conn.Object(sender, "/StatusNotifierItem/menu")
	layout := func() dbustest.MenuItem {
		t.Helper()
		var rev uint32
		var l any
		if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l); err != nil {
			t.Fatalf("GetLayout: %v", err)
		}
		return dbustest.ParseMenu(l)
	}
	var root dbustest.MenuItem
	var menuSeen time.Time
	deadline := time.Now().Add(10 * time.Second)
	for {
		root = layout()
		_, bobOK := root.Find("Favorites/Bob")
		_, carolOK := root.Find("Favorites/Carol Contact")
		if bobOK && carolOK {
			menuSeen = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Favorites/Bob (config) %v, Favorites/Carol Contact (imported) %v", bobOK, carolOK)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, ok := root.Find("Favorites/Dave NotFavorite"); ok {
		t.Error("a contact that is not a favorite is in the Favorites menu")
	}

	// Contacts imported while the phone runs reach its Favorites menu without a restart. Once the
	// tray's one-off refresh a second after start is over, only the reload can rebuild the menu.
	time.Sleep(time.Until(menuSeen.Add(1500 * time.Millisecond)))
	vcf := filepath.Join(home, "more.vcf")
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Erin Imported\r\nIMPP:sip:erin@192.0.2.2\r\nCATEGORIES:starred\r\nEND:VCARD\r\n"
	if err := os.WriteFile(vcf, []byte(card), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(binary, "--home", home, "contacts", "import", vcf)
	imp.Env = cmd.Env
	importStart := time.Now()
	if out, err := imp.CombinedOutput(); err != nil || !strings.Contains(string(out), "the running phone now knows 3 contacts") {
		t.Fatalf("contacts import with the phone running: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := layout().Find("Favorites/Erin Imported"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a favorite contact imported while the phone runs is not in the Favorites menu 5 s later")
		}
	}
	t.Logf("imported favorite in the menu %v after the import started", time.Since(importStart).Round(time.Millisecond))
	if _, ok := layout().Find("Favorites/Carol Contact"); !ok {
		t.Error("the favorites imported before are gone from the menu after a reload")
	}
	click := func(label string) {
		t.Helper()
		n, ok := layout().Find(label)
		if !ok {
			t.Fatalf("no menu item %q", label)
		}
		if err := menu.Call("com.canonical.dbusmenu.Event", 0, n.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
			t.Fatalf("click %q: %v", label, err)
		}
	}
	waitBob := func(ev string) {
		t.Helper()
		if _, err := bob.WaitEvent(ev, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// A favorite clicked in the menu reaches baresip.
	click("Favorites/Bob")
	waitBob(baresip.CallEstablished)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitBob(baresip.CallClosed)

	// A second launch with a link forwards it to the running phone and exits.
	fwd := exec.Command(binary, "--home", home, bob.URI())
	fwd.Env = cmd.Env
	start := time.Now()
	if out, err := fwd.CombinedOutput(); err != nil {
		t.Fatalf("trayphone %s (second launch): %v\n%s", bob.URI(), err, out)
	}
	t.Logf("second launch forwarded the link and exited after %v", time.Since(start).Round(time.Millisecond))
	waitBob(baresip.CallEstablished)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitBob(baresip.CallClosed)

	incoming := func() dbustest.Notification {
		t.Helper()
		if err := bob.Dial(self); err != nil {
			t.Fatal(err)
		}
		n := notes.NextNote(t)
		if n.Summary != "Incoming call" || !slices.Contains(n.Actions, "answer") || !slices.Contains(n.Actions, "decline") {
			t.Fatalf("incoming call notification %q with actions %q", n.Summary, n.Actions)
		}
		if !strings.Contains(n.Body, "Bob") || !strings.Contains(n.Body, "sip:bob@127.0.0.1") {
			t.Errorf("notification body %q: want the favorite's name and the caller's address", n.Body)
		}
		return n
	}

	// Decline from the notification: baresip's call is closed, no missed-call note.
	n := incoming()
	notes.Invoke(t, n.ID, "decline")
	waitBob(baresip.CallClosed)
	notes.WaitClosed(t, n.ID)

	// The caller gives up: the ringing note closes and a missed-call note stays.
	n = incoming()
	if _, err := bob.WaitEvent(baresip.CallRinging, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	notes.WaitClosed(t, n.ID)
	if m := notes.NextNote(t); m.Summary != "Missed call from Bob" {
		t.Errorf("after a cancelled call: notification %q, want \"Missed call from Bob\"", m.Summary)
	}
	waitBob(baresip.CallClosed)

	// Answer from the notification: the call is established and audio flows both ways.
	n = incoming()
	notes.Invoke(t, n.ID, "answer")
	waitBob(baresip.CallEstablished)
	notes.WaitClosed(t, n.ID)
	time.Sleep(3 * time.Second)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitBob(baresip.CallClosed)
	select {
	case m := <-notes.Notes:
		t.Errorf("unexpected notification %q after an answered call", m.Summary)
	default:
	}

	// Quit from the menu: the phone shuts down in order and exits 0.
	click("Quit")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("trayphone exited with %v after Quit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("trayphone did not exit after Quit")
	}
	checkHeard(t, heard, 1000)
	checkHeard(t, bob.RecordedReceived(), 600)
	if strings.Contains(log.String(), "no system tray") {
		t.Error("trayphone said there is no tray although a StatusNotifierWatcher was on the bus")
	}
}

// TestDefaultConfigLoads checks that the commented file "Open config" creates is valid and equals
// the built-in defaults, and that an existing file is left alone.
func TestDefaultConfigLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.toml")
	if err := ensureConfig(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := config.Load(path, config.LoadOptions{KnownCodecs: codecNames()})
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	if got.SIP.Listen != want.SIP.Listen || got.Audio.Input != want.Audio.Input || got.Audio.Ringer != want.Audio.Ringer ||
		!slices.Equal(got.Audio.Codecs, want.Audio.Codecs) || got.DND || len(got.Favorites) != 0 || len(got.Accounts) != 0 {
		t.Errorf("default file loads as %+v, want %+v", got, want)
	}
	if err := os.WriteFile(path, []byte("dnd = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ensureConfig(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "dnd = true\n" {
		t.Errorf("ensureConfig changed an existing file to %q", b)
	}
}

// TestScreenshot saves a screenshot of the tray under Xvfb with xfce4-panel and xfce4-notifyd: the
// icon, its open menu and the incoming-call notification of a real call from baresip. It runs only
// when TRAYPHONE_SCREENSHOT names the PNG to write (scripts/desktop_screenshot.sh).
func TestScreenshot(t *testing.T) {
	out := os.Getenv("TRAYPHONE_SCREENSHOT")
	if out == "" {
		t.Skip("set TRAYPHONE_SCREENSHOT=FILE.png to take the screenshot")
	}
	out, _ = filepath.Abs(out)
	for _, p := range []string{"Xvfb", "xfce4-panel", "xdotool", "import", "busctl"} {
		testenv.RequireProgram(t, p)
	}
	desk := t.TempDir()
	start := exec.Command("scripts/desktop_start.sh", desk)
	start.Env = append(os.Environ(), "NOTIFYD=xfce4-notifyd")
	envOut, err := start.Output()
	if err != nil {
		t.Fatalf("desktop_start.sh: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("scripts/desktop_stop.sh", desk).Run() })
	var env []string
	for _, line := range strings.Split(string(envOut), "\n") {
		env = append(env, strings.Fields(strings.TrimPrefix(line, "export "))...)
	}
	env = append(os.Environ(), env...)

	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1000})
	home := t.TempDir()
	cfg := "[sip]\nuser = \"alice\"\n\n[favorites]\nBob = \"" + bob.URI() + "\"\nReception = \"sip:desk@192.0.2.10\"\n"
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	book := &contacts.Book{Contacts: []contacts.Contact{{Name: "Carol Contact", SIP: []string{"sip:carol@192.0.2.1"}, Favorite: true}}}
	if err := book.Save(filepath.Join(home, "state")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(binary, "--home", home, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--audio-in", "null", "--audio-out", "null")
	cmd.Env = env
	var log testenv.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("trayphone log:\n%s", log.String())
		}
	})
	run := func(name string, args ...string) {
		t.Helper()
		c := exec.Command(name, args...)
		c.Env = env
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, b)
		}
	}
	time.Sleep(3 * time.Second) // the panel shows the icon
	if err := bob.Dial(fmt.Sprintf("sip:alice@127.0.0.1:%d", port)); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallRinging, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the notification slides in
	// The tray icon is the right-most item of the 32 px panel at the top of the 1024 px screen.
	run("xdotool", "mousemove", "1008", "16", "click", "1")
	time.Sleep(1500 * time.Millisecond)
	// Hover "Favorites" (the fifth row of the menu) to open the submenu.
	run("xdotool", "mousemove", "850", "150")
	time.Sleep(1500 * time.Millisecond)
	run("import", "-window", "root", "-colors", "128", out)
	t.Logf("saved %s", out)
}

// TestNoTrayStillNotifies runs the real binary on a bus with a notification server but no tray host:
// it says once that there is no tray, and a call from baresip still notifies, naming the caller from
// contacts imported while the phone runs, and is answered from the notification's button.
func TestNoTrayStillNotifies(t *testing.T) {
	addr := dbustest.StartBus(t)
	notes := dbustest.StartNotifServer(t, addr, true)
	bob := baresip.Start(t, baresip.Options{User: "bob"})
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("[sip]\nuser = \"alice\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&contacts.Book{Contacts: []contacts.Contact{{Name: "Dave", Numbers: []string{"+1 555 0100"}}}}).Save(filepath.Join(home, "state")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(binary, "--home", home, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--audio-in", "null", "--audio-out", "null")
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "DISPLAY=", "WAYLAND_DISPLAY=")
	var log testenv.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("trayphone log:\n%s", log.String())
		}
	})
	sock := filepath.Join(home, "control.sock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("trayphone did not start")
		}
	}
	// Bob becomes a contact only now: the running phone reloads its book and names him.
	vcf := filepath.Join(home, "bob.vcf")
	card := "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob From Contacts\r\nIMPP:sip:bob@127.0.0.1\r\nEND:VCARD\r\n"
	if err := os.WriteFile(vcf, []byte(card), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(binary, "--home", home, "contacts", "import", vcf)
	imp.Env = cmd.Env
	if out, err := imp.CombinedOutput(); err != nil || !strings.Contains(string(out), "the running phone now knows 2 contacts") {
		t.Fatalf("contacts import with the phone running: %v\n%s", err, out)
	}
	if err := bob.Dial(fmt.Sprintf("sip:alice@127.0.0.1:%d", port)); err != nil {
		t.Fatal(err)
	}
	n := notes.NextNote(t)
	if !slices.Contains(n.Actions, "answer") || !strings.Contains(n.Body, "Bob From Contacts") {
		t.Fatalf("notification %q / %q with actions %q: want the contact's name and an answer button", n.Summary, n.Body, n.Actions)
	}
	notes.Invoke(t, n.ID, "answer")
	if _, err := bob.WaitEvent(baresip.CallEstablished, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	notes.WaitClosed(t, n.ID)
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(log.String(), "no system tray found"); c != 1 {
		t.Errorf("said %d times that there is no tray, want once", c)
	}
}

// TestAddressBookReload swaps the whole book on reload, keeps the one in use when the file on disk
// is unreadable, and signals the tray at most once per pending rebuild.
func TestAddressBookReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &addressBook{dir: dir, changed: make(chan struct{}, 1)}
	if _, err := b.reload(); err != nil {
		t.Fatal(err)
	}
	if got := b.Name("sip:erin@192.0.2.2"); got != "" {
		t.Errorf("empty book: got name %q", got)
	}
	book := &contacts.Book{Contacts: []contacts.Contact{{Name: "Erin", SIP: []string{"sip:erin@192.0.2.2"}, Favorite: true}}}
	if err := book.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reload(); err != nil {
		t.Fatal(err)
	}
	if got := b.Name("<sip:erin@192.0.2.2;transport=udp>"); got != "Erin" {
		t.Errorf("after reload: got name %q, want Erin", got)
	}
	if err := os.WriteFile(filepath.Join(dir, contacts.FileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reload(); err == nil {
		t.Error("reload of a corrupt file: got no error")
	}
	if got := b.Name("sip:erin@192.0.2.2"); got != "Erin" {
		t.Errorf("after a failed reload: got name %q, want the book in use (Erin)", got)
	}
	if len(b.changed) != 1 {
		t.Errorf("got %d pending tray rebuilds, want 1", len(b.changed))
	}
}
