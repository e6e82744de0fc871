package control

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/testenv"
)

func runCLI(t *testing.T, path string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code = RunCLI(ctx, path, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLICommands(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		args     []string
		wantOut  string
		wantCore string
	}{
		{[]string{"call", "bob", "--account", "work"}, "calling sip:bob@example.com (call c2, dialing)\n", "call bob work"},
		{[]string{"call", "--account=home", "alice"}, "calling sip:alice@example.com (call c2, dialing)\n", "call alice home"},
		{[]string{"answer", "c1"}, "answered\n", "answer c1"},
		{[]string{"hangup"}, "hung up\n", "hangup "},
		{[]string{"hold", "c1"}, "on hold\n", "hold c1"},
		{[]string{"resume", "c1"}, "resumed\n", "resume c1"},
		{[]string{"mute"}, "muted\n", "mute  true"},
		{[]string{"unmute", "c1"}, "unmuted\n", "mute c1 false"},
		{[]string{"dnd", "on"}, "do not disturb is on\n", "dnd true"},
		{[]string{"dnd", "off"}, "do not disturb is off\n", "dnd false"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, ts.path, tt.args...)
		if code != 0 || out != tt.wantOut || errOut != "" {
			t.Errorf("%q: got %d, %q, %q; want 0, %q, \"\"", tt.args, code, out, errOut, tt.wantOut)
		}
		log := ts.core.calls()
		if got := log[len(log)-1]; got != tt.wantCore {
			t.Errorf("%q: core got %q, want %q", tt.args, got, tt.wantCore)
		}
	}

	code, out, _ := runCLI(t, ts.path, "call", "bob", "--json")
	var call phone.CallInfo
	if code != 0 || json.Unmarshal([]byte(out), &call) != nil || call.ID != "c2" {
		t.Errorf("call --json: got %d, %q", code, out)
	}
}

func TestCLIErrors(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"answer"}, 1, "trayphone answer: no incoming call to answer\n"},
		{[]string{"call", "nobody"}, 1, "trayphone call: no favorite named \"nobody\" and not a SIP address\n"},
		{[]string{"call"}, 2, "trayphone call: missing argument\nusage: trayphone call TARGET [--account ID] [--json]\n"},
		{[]string{"hold", "a", "b"}, 2, "trayphone hold: too many arguments: b\nusage: trayphone hold [ID]\n"},
		{[]string{"dnd", "maybe"}, 2, "trayphone dnd: want \"on\" or \"off\", not \"maybe\"\n"},
		{[]string{"status", "--verbose"}, 2, "trayphone status: flag provided but not defined: -verbose\nusage: trayphone status [--json]\n"},
		{[]string{"answer", "--json"}, 2, "trayphone answer: flag provided but not defined: -json\nusage: trayphone answer [ID]\n"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, ts.path, tt.args...)
		if code != tt.code || errOut != tt.wantErr || out != "" {
			t.Errorf("%q: got %d, stdout %q, stderr %q; want %d, stderr %q", tt.args, code, out, errOut, tt.code, tt.wantErr)
		}
	}
	if code, _, errOut := runCLI(t, ts.path, "frob"); code != 2 || !strings.HasPrefix(errOut, "trayphone: unknown command \"frob\"\ncommands:\n") {
		t.Errorf("unknown command: got %d, %q", code, errOut)
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, filepath.Join(t.TempDir(), "none.sock"), "call", "-h")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: trayphone call TARGET [--account ID] [--json]\n") || !strings.Contains(out, "-account ID") {
		t.Errorf("call -h: got %d, %q, %q", code, out, errOut)
	}
}

func TestCLINotRunning(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "control.sock")
	code, out, errOut := runCLI(t, path, "status")
	want := "trayphone: trayphone is not running (no control socket at " + path + "); start it with \"trayphone\" or \"trayphone --headless\"\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("got %d, %q, %q; want 1, \"\", %q", code, out, errOut, want)
	}
}

func TestCLIStatusHuman(t *testing.T) {
	ts := startServer(t)
	code, out, errOut := runCLI(t, ts.path, "status")
	want := `trayphone pid 4242, do not disturb off
contact: sip:alice@192.168.1.5:5060

ACCOUNT  AOR                     STATE       REASON
work     sip:alice@example.com   registered  
home     sip:alice@home.example  failed      403 Forbidden

CALL  DIRECTION  REMOTE                STATE                     CODEC  DURATION
c1    outgoing   sip:bob@192.168.1.20  active (encrypted: srtp)  PCMU   1m05s
`
	if code != 0 || errOut != "" || out != want {
		t.Errorf("got %d, %q\n%s\nwant\n%s", code, errOut, out, want)
	}
	code, out, _ = runCLI(t, ts.path, "calls")
	if code != 0 || !strings.Contains(out, "c1    outgoing   sip:bob@192.168.1.20  active (encrypted: srtp)  PCMU   1m05s") {
		t.Errorf("calls: got %d\n%s", code, out)
	}
}

func TestCLIStatusJSONShape(t *testing.T) {
	ts := startServer(t)
	code, out, errOut := runCLI(t, ts.path, "status", "--json")
	if code != 0 || errOut != "" {
		t.Fatalf("got %d, %q", code, errOut)
	}
	var st struct {
		DND      bool `json:"dnd"`
		Accounts []struct {
			ID, AOR, State, Reason string
		} `json:"accounts"`
		Calls []struct {
			ID, Direction, Remote, State, Codec, Encryption string
			Duration                                        float64
		} `json:"calls"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(st.Accounts) != 2 || st.Accounts[0].ID != "work" || st.Accounts[0].AOR != "sip:alice@example.com" ||
		st.Accounts[0].State != "registered" || st.Accounts[1].State != "failed" {
		t.Errorf("accounts: got %+v", st.Accounts)
	}
	if len(st.Calls) != 1 {
		t.Fatalf("calls: got %+v", st.Calls)
	}
	c := st.Calls[0]
	if c.ID != "c1" || c.Direction != "outgoing" || c.Remote != "sip:bob@192.168.1.20" || c.State != "active" || c.Codec != "PCMU" || c.Duration != 65 ||
		c.Encryption != "srtp" {
		t.Errorf("call: got %+v", c)
	}

	code, out, _ = runCLI(t, ts.path, "calls", "--json")
	var calls []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &calls) != nil || len(calls) != 1 || calls[0]["state"] != "active" || calls[0]["encryption"] != "srtp" {
		t.Errorf("calls --json: got %d, %s", code, out)
	}
}

func TestCLIEmptyJSONLists(t *testing.T) {
	ts := startServer(t)
	ts.core.mu.Lock()
	ts.core.status.Accounts, ts.core.status.Calls = nil, nil
	ts.core.mu.Unlock()
	if _, out, _ := runCLI(t, ts.path, "calls", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("calls --json with no calls: got %q, want []", out)
	}
	_, out, _ := runCLI(t, ts.path, "status", "--json")
	if !strings.Contains(out, `"accounts": []`) || !strings.Contains(out, `"calls": []`) {
		t.Errorf("status --json with nothing: got %s, want empty lists", out)
	}
	if _, out, _ := runCLI(t, ts.path, "status"); !strings.Contains(out, "no accounts\n") || !strings.Contains(out, "no calls\n") {
		t.Errorf("status with nothing: got %s", out)
	}
}

func TestCLIEvents(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb testenv.Buffer
	done := make(chan int)
	go func() { done <- RunCLI(ctx, ts.path, []string{"events"}, &out, &errb) }()
	waitFor(t, "subscription", func() bool { return ts.core.subscribers() == 1 })
	acc := phone.AccountInfo{ID: "work", AOR: "sip:alice@example.com", State: phone.RegRegistering}
	if err := ts.core.publish(phone.Event{Type: phone.EventAccount, Account: &acc}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two event lines", func() bool { return strings.Count(out.String(), "\n") >= 2 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code after interrupt: got %d, want 0 (stderr %q)", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var types []string
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		types = append(types, ev["type"].(string))
	}
	if want := []string{"status", "account"}; !reflect.DeepEqual(types, want) {
		t.Errorf("event types: got %v, want %v", types, want)
	}
	if !strings.Contains(lines[1], `"state":"registering"`) {
		t.Errorf("account event: got %s", lines[1])
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for s, want := range map[phone.Seconds]string{0: "0s", 5.7: "5s", 59: "59s", 60: "1m00s", 65: "1m05s", 3600: "1h00m00s", 7389: "2h03m09s", -3: "0s"} {
		if got := formatDuration(s); got != want {
			t.Errorf("formatDuration(%v): got %q, want %q", s, got, want)
		}
	}
}

func TestIsClientCommand(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"call", "answer", "hangup", "hold", "resume", "mute", "unmute", "dnd", "status", "calls", "events"} {
		if !IsClientCommand(name) {
			t.Errorf("IsClientCommand(%q): got false, want true", name)
		}
	}
	for _, name := range []string{"", "--headless", "account", "help"} {
		if IsClientCommand(name) {
			t.Errorf("IsClientCommand(%q): got true, want false", name)
		}
	}
}
