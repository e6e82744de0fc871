package tray

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/dbustest"
)

// TestCallsMenuOverDBus: with a call held, one active and one waiting, the tray lists all three
// with their states, and each one's submenu offers what applies to it: swap to the held one, hold
// the active one, answer or decline the waiting one, hang up any. Clicks reach the core with the
// right call's ID. The answered calls offer transfer: to a favorite, or to each other (attended).
func TestCallsMenuOverDBus(t *testing.T) {
	menu, lines := trayChild(t, "twocalls")

	want := []string{
		"Call 1: bob — on hold/Swap to this call", "Call 1: bob — on hold/Hang up",
		"Call 2: dave — active/Hold", "Call 2: dave — active/Hang up",
		"Call 1: bob — on hold/Stop recording", "Call 2: dave — active/Record",
		"Forward calls (after 20 s unanswered to sip:desk@example.com)",
		"Call 3: erin — incoming/Answer", "Call 3: erin — incoming/Decline",
		"Call 1: bob — on hold/Transfer to call 2: dave (attended)", "Call 2: dave — active/Transfer to call 1: bob (attended)",
		"Call 1: bob — on hold/Transfer to/Alice", "Call 2: dave — active/Transfer to/bob",
	}
	var root dbustest.MenuItem
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var rev uint32
		var layout any
		if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &layout); err == nil {
			root = dbustest.ParseMenu(layout)
		}
		missing = missing[:0]
		for _, w := range want {
			if _, ok := root.Find(w); !ok {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("menu has no visible %q", missing)
		}
	}
	for _, hidden := range []string{
		"Call 1: bob — on hold/Hold", "Call 1: bob — on hold/Answer",
		"Call 2: dave — active/Swap to this call", "Call 3: erin — incoming/Hold", "Call 3: erin — incoming/Swap to this call",
		"Call 3: erin — incoming/Record", "Call 1: bob — on hold/Record", "Call 2: dave — active/Stop recording",
		"Call 3: erin — incoming/Transfer to", "Call 1: bob — on hold/Transfer to call 3: erin (attended)",
		"Call 1: bob — on hold/Transfer to call 1: bob (attended)",
	} {
		if _, ok := root.Find(hidden); ok {
			t.Errorf("menu shows %q, which does not apply", hidden)
		}
	}
	click := func(label, want string) {
		t.Helper()
		n, ok := root.Find(label)
		if !ok {
			t.Fatalf("no menu item %q", label)
		}
		if err := menu.Call("com.canonical.dbusmenu.Event", 0, n.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
			t.Fatalf("click %q: %v", label, err)
		}
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
				t.Fatalf("clicked %q: the core did not get %q", label, want)
			}
		}
	}
	click("Call 1: bob — on hold/Transfer to call 2: dave (attended)", "transfer 1 --to 2")
	click("Call 2: dave — active/Transfer to/Alice", "transfer 2 sip:alice@example.com")
	click("Call 1: bob — on hold/Swap to this call", "resume 1")
	click("Call 2: dave — active/Hold", "hold 2")
	click("Call 3: erin — incoming/Answer", "answer 3")
	click("Call 2: dave — active/Record", "record 2 on")
	click("Call 1: bob — on hold/Stop recording", "record 1 off")
	click("Forward calls (after 20 s unanswered to sip:desk@example.com)", "forward off")
	click("Call 2: dave — active/Hang up", "hangup 2")
	click("Call 3: erin — incoming/Decline", "hangup 3")
}

func TestCallTitle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    phone.CallInfo
		want string
	}{
		{phone.CallInfo{ID: "1", Remote: "sip:bob@x", State: phone.CallActive}, "Call 1: bob — active"},
		{phone.CallInfo{ID: "2", Remote: "sip:bob@x", State: phone.CallHeld, LocalHold: true}, "Call 2: bob — on hold"},
		{phone.CallInfo{ID: "3", Remote: "sip:bob@x", State: phone.CallHeld, RemoteHold: true}, "Call 3: bob — held by the far end"},
		{phone.CallInfo{ID: "4", Remote: "sip:bob@x", RemoteName: "Bob B", State: phone.CallIncoming}, "Call 4: Bob B — incoming"},
		{phone.CallInfo{ID: "5", Remote: "sip:bob@x", State: phone.CallRinging}, "Call 5: bob — calling"},
	} {
		if got := callTitle(tc.c, nil); got != tc.want {
			t.Errorf("callTitle(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

// TestTransferOneCallOverDBus: with one answered call, the top-level menu offers Transfer to with
// the favorites; a click transfers that call (blind).
func TestTransferOneCallOverDBus(t *testing.T) {
	menu, lines := trayChild(t, "onecall")
	var node dbustest.MenuItem
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var rev uint32
		var layout any
		if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &layout); err == nil {
			if n, ok := dbustest.ParseMenu(layout).Find("Transfer to/bob"); ok {
				node = n
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no visible Transfer to/bob with one answered call")
		}
	}
	if err := menu.Call("com.canonical.dbusmenu.Event", 0, node.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatal(err)
	}
	for timeout := time.After(10 * time.Second); ; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("child exited")
			}
			if l == "transfer 4 sip:bob@example.com" {
				return
			}
		case <-timeout:
			t.Fatal("clicked Transfer to/bob: the core did not get the transfer")
		}
	}
}

// trayChild runs this test binary as a tray process in scenario (run_test.go) on a private
// session bus, and returns its menu's D-Bus object and the lines the process prints (what its
// fake core was asked to do).
func trayChild(t *testing.T, scenario string) (dbus.BusObject, <-chan string) {
	t.Helper()
	addr := dbustest.StartBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	conn := dbustest.Connect(t, addr)
	w := dbustest.StartWatcher(t, conn)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childScenario+"="+scenario, "DISPLAY=", "WAYLAND_DISPLAY=")
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
	}()
	var item string
	select {
	case item = <-w.Items:
	case <-time.After(15 * time.Second):
		t.Fatal("the tray did not register a StatusNotifierItem")
	}
	sender, _, _ := strings.Cut(item, "/")
	menu := conn.Object(sender, "/StatusNotifierItem/menu")
	return menu, lines
}
