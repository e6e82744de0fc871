package tray

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
	"trayphone/internal/siptest/dbustest"

	"github.com/godbus/dbus/v5"

	"trayphone/assets"
	"trayphone/internal/phone"
)

// childEnv makes the test binary run tray.Run on its main goroutine instead of the tests (systray
// needs the main OS thread and runs once per process). childScenario "ringing" adds an incoming call;
// "busy" keeps the tray refreshing without pause, so a quit always lands in the middle of an update.
const (
	childEnv      = "TRAYPHONE_TRAY_CHILD"
	childScenario = "TRAYPHONE_TRAY_SCENARIO"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild runs the tray with a recorder whose commands it prints as lines on stdout.
func runChild() int {
	r := newRecorder()
	r.favs = []Favorite{{Name: "Alice", URI: "sip:alice@example.com"}, {Name: "bob", URI: "sip:bob@example.com"}}
	r.status = phone.Status{Version: phone.ProtocolVersion, Accounts: []phone.AccountInfo{
		{ID: "a1", AOR: "sip:carol@example.com", State: phone.RegRegistered,
			VoicemailURI: "sip:*97@example.com", Voicemail: &phone.MessageCount{New: 2, Old: 5, Waiting: true}}},
		Favorites: []phone.FavoriteState{{Name: "Alice", URI: "sip:alice@example.com", Account: "a1", State: "busy"}}}
	r.recent = []phone.HistoryEntry{
		{Direction: phone.Incoming, Remote: "sip:bob@example.com", Result: phone.ResultMissed, Unseen: true},
		{Direction: phone.Outgoing, Remote: "sip:dave@example.com", Result: phone.ResultAnswered},
		{Direction: phone.Incoming, Remote: "sip:erin@example.com", Result: phone.ResultMissed},
	}
	if os.Getenv(childScenario) == "ringing" {
		c := phone.CallInfo{ID: "c1", Direction: phone.Incoming, Remote: "sip:bob@example.com", State: phone.CallIncoming, Started: time.Now()}
		r.status.Calls = []phone.CallInfo{c}
		r.events <- phone.Event{Type: phone.EventCall, Call: &c}
	}
	if os.Getenv(childScenario) == "twocalls" {
		now := time.Now()
		r.status.Calls = []phone.CallInfo{
			{ID: "1", Direction: phone.Incoming, Remote: "sip:bob@example.com", State: phone.CallHeld, LocalHold: true, Started: now, Answered: now, Recording: "/state/recordings/bob.wav"},
			{ID: "2", Direction: phone.Incoming, Remote: "sip:dave@example.com", State: phone.CallActive, Started: now, Answered: now},
			{ID: "3", Direction: phone.Incoming, Remote: "sip:erin@example.com", State: phone.CallIncoming, Started: now},
		}
		r.status.Forward = &phone.Forward{Mode: phone.ForwardNoAnswer, Target: "sip:desk@example.com", After: 20}
	}
	if os.Getenv(childScenario) == "onecall" {
		now := time.Now()
		r.status.Calls = []phone.CallInfo{{ID: "4", Direction: phone.Outgoing, Remote: "sip:dave@example.com", State: phone.CallActive, Started: now, Answered: now}}
	}
	opts := Options{ConfigPath: "/nonexistent/trayphone.toml", EchoTestURI: "sip:echo@example.com"}
	if os.Getenv(childScenario) == "busy" {
		r.alt = &phone.Status{Version: phone.ProtocolVersion, Accounts: []phone.AccountInfo{
			{ID: "a1", AOR: "sip:carol@example.com", State: phone.RegFailed, Reason: "wrong password"}}}
		refresh := make(chan struct{})
		opts.Refresh = refresh
		go func() { // ends with the process
			for {
				refresh <- struct{}{}
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		for s := range r.got {
			fmt.Println(s)
		}
	}()
	fmt.Println("running")
	// With the answering machine and blocking (tray.Voicemail): one new message.
	vr := &vmRecorder{recorder: r, msgs: []phone.VoicemailMessage{
		{ID: "20261207-223005", From: "sip:erin@example.com", Name: "Erin", Start: time.Date(2026, 12, 7, 22, 30, 5, 0, time.Local), Duration: 12, New: true}}}
	err := Run(ctx, vr, opts)
	time.Sleep(100 * time.Millisecond) // let the printer flush
	fmt.Println("quit", err)
	return 0
}

func TestRunMenuOverDBus(t *testing.T) {
	addr := dbustest.StartBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	if Available() {
		t.Fatal("Available() = true before any StatusNotifierWatcher exists")
	}
	conn := dbustest.Connect(t, addr)
	w := dbustest.StartWatcher(t, conn)
	if !Available() {
		t.Fatal("Available() = false with a StatusNotifierWatcher on the bus")
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "DISPLAY=", "WAYLAND_DISPLAY=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()

	var item string
	select {
	case item = <-w.Items:
	case <-time.After(15 * time.Second):
		t.Fatal("the tray did not register a StatusNotifierItem")
	}
	sender, path, _ := strings.Cut(item, "/")
	if path != "StatusNotifierItem" {
		t.Fatalf("registered item %q: want path /StatusNotifierItem", item)
	}
	sni := conn.Object(sender, "/StatusNotifierItem")

	// Icon and tooltip are exported (the icon was set before systray.Run and again after ready).
	var root dbustest.MenuItem
	badge := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		px, _ := sni.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
		tip, _ := sni.GetProperty("org.kde.StatusNotifierItem.ToolTip")
		pixOK, tipText := false, ""
		if p, ok := px.Value().([][]any); ok && len(p) > 0 {
			pixOK = p[0][0].(int32) == 64 && len(p[0][2].([]byte)) == 64*64*4
			if pixOK {
				// Two voice messages wait: the red badge is in the top right corner (ARGB).
				px := p[0][2].([]byte)
				x, y := 64-15, 14
				i := 4 * (y*64 + x)
				badge = px[i] == 0xff && px[i+1] == assets.BadgeColor.R && px[i+2] == assets.BadgeColor.G && px[i+3] == assets.BadgeColor.B
			}
		}
		if tt, ok := tip.Value().([]any); ok && len(tt) == 4 {
			tipText, _ = tt[2].(string)
		}
		var rev uint32
		var layout any
		menu := conn.Object(sender, "/StatusNotifierItem/menu")
		err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &layout)
		if err == nil {
			root = dbustest.ParseMenu(layout)
		}
		_, favOK := root.Find("Favorites/bob")
		if pixOK && badge && strings.Contains(tipText, "sip:carol@example.com: registered") && strings.Contains(tipText, "Voicemail: 2 new") && favOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tray not ready: icon 64x64 %v with the message badge %v, tooltip %q, favorite found %v", pixOK, badge, tipText, favOK)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, want := range []string{"sip:carol@example.com: registered", "Favorites/● Alice (busy)", "Call voicemail (2 new)", "Recent calls (1 new missed)/bob — missed (new)",
		"Recent calls (1 new missed)/dave — outgoing", "Recent calls (1 new missed)/erin — missed", "Do not disturb", "Echo test", "Open config", "Quit"} {
		if _, ok := root.Find(want); !ok {
			t.Errorf("menu has no visible %q", want)
		}
	}
	for _, hidden := range []string{"Answer", "Decline", "Hang up", "Mute", "Keypad", "Dial clipboard"} {
		if _, ok := root.Find(hidden); ok {
			t.Errorf("menu shows %q while idle without a clipboard tool", hidden)
		}
	}

	click := func(label string) {
		t.Helper()
		n, ok := root.Find(label)
		if !ok {
			t.Fatalf("no menu item %q", label)
		}
		menu := conn.Object(sender, "/StatusNotifierItem/menu")
		if err := menu.Call("com.canonical.dbusmenu.Event", 0, n.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
			t.Fatalf("click %q: %v", label, err)
		}
	}
	expectLine := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited before printing %q", want)
				}
				if l == want {
					return
				}
			case <-timeout:
				t.Fatalf("child did not print %q", want)
			}
		}
	}
	click("Favorites/bob")
	expectLine("call sip:bob@example.com")
	click("Call voicemail (2 new)")
	expectLine("call sip:*97@example.com")
	click("Recent calls (1 new missed)/dave — outgoing")
	expectLine("call sip:dave@example.com")
	// Opening the menu shows the new missed calls: they are seen now.
	if err := conn.Object(sender, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0, root.ID, "opened", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("open the menu: %v", err)
	}
	expectLine("seen")
	// The answering machine's messages, and blocking a recent caller.
	for _, want := range []string{"Messages (1 new)/● Erin — 0:12, Dec 7 22:30", "Recent calls (1 new missed)/Block this caller/Block bob (sip:bob@example.com)"} {
		if _, ok := root.Find(want); !ok {
			t.Errorf("menu has no visible %q", want)
		}
	}
	if _, ok := root.Find("Recent calls (1 new missed)/Block this caller/Block sip:dave@example.com"); ok {
		t.Error("\"Block this caller\" offers dave, whom the user called")
	}
	click("Messages (1 new)/● Erin — 0:12, Dec 7 22:30")
	expectLine("play 20261207-223005")
	click("Recent calls (1 new missed)/Block this caller/Block sip:erin@example.com")
	expectLine("block sip:erin@example.com")
	click("Do not disturb")
	expectLine("dnd on")
	click("Quit")
	expectLine("quit <nil>")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("child: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child did not exit after Quit")
	}
}

// TestRunQuitWhileUpdating quits trays that are busy updating their icon and menu: fyne.io/systray
// closes its D-Bus connection on Quit and panics on a property set after that, so the tray must
// stop updating before it quits. Every child must exit cleanly.
func TestRunQuitWhileUpdating(t *testing.T) {
	addr := dbustest.StartBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	conn := dbustest.Connect(t, addr)
	w := dbustest.StartWatcher(t, conn)
	for i := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", childScenario+"=busy", "DISPLAY=", "WAYLAND_DISPLAY=")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.Items:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child %d did not register a StatusNotifierItem; output:\n%s", i, out.String())
		}
		time.Sleep(time.Duration(50+40*i) * time.Millisecond) // land the quit at different points
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil || !strings.Contains(out.String(), "quit <nil>") {
				t.Fatalf("child %d quit while updating: %v; output:\n%s", i, err, out.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("child %d did not exit after SIGTERM; output:\n%s", i, out.String())
		}
	}
}
