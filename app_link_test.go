package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/tray"
)

// TestLinkSmuggledHome: a crafted link handed to a "%1"/"%u" handler must not point --home (or
// --listen) anywhere: flags after a link are refused and nothing starts (issue 14: they were
// taken from anywhere on the line, so the phone started with the attacker's home).
func TestLinkSmuggledHome(t *testing.T) {
	evil := filepath.Join(t.TempDir(), "share")
	if err := os.Mkdir(evil, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "sip:x@127.0.0.1:9", "--home", evil)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir())
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("exit: %v, want code 2\n%s", err, out)
		}
	case <-time.After(3 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("trayphone with a link followed by --home is still running after 3 s:\n%s", out)
	}
	if ents, _ := os.ReadDir(evil); len(ents) != 0 {
		t.Errorf("the smuggled home was used: %d entries in it", len(ents))
	}
}

// TestLinkToStrangerNeedsConfirmation: a clicked link to an address that is no contact or
// favorite does not dial at once (issue 14: it did, and a tel: link through an account is a
// billable call).
func TestLinkToStrangerNeedsConfirmation(t *testing.T) {
	a := startInstance(t, "alice", 1000)
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	uri := fmt.Sprintf("sip:stranger@%s", stranger.LocalAddr())
	out, _ := exec.Command(binary, "--home", a.home, uri).CombinedOutput()
	_ = stranger.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	if n, _, err := stranger.ReadFrom(buf); err == nil {
		t.Errorf("the link dialled without confirmation: %q\n(trayphone said %q)", strings.SplitN(string(buf[:n]), "\r\n", 2)[0], out)
	}
}

// TestLinkPolicy: a contact or favorite is dialled at once; anyone else only after Call.
func TestLinkPolicy(t *testing.T) {
	var mu sync.Mutex
	var called, asked []string
	answer := make(chan bool, 1)
	d := &linkDialer{
		call: func(_ context.Context, target string) error {
			mu.Lock()
			called = append(called, target)
			mu.Unlock()
			return nil
		},
		known: func(uri string) string {
			if uri == "sip:bob@example.org" {
				return "Bob"
			}
			return ""
		},
		ask: func(_ context.Context, target, _ string) (bool, error) {
			mu.Lock()
			asked = append(asked, target)
			mu.Unlock()
			return <-answer, nil
		},
		log: slog.New(slog.DiscardHandler),
	}
	if res, err := d.handle(context.Background(), "sip:bob@example.org"); err != nil || !res.Dialled {
		t.Errorf("favorite: %+v, %v; want dialled", res, err)
	}
	res, err := d.handle(context.Background(), "tel:+19005550100")
	if err != nil || res.Dialled {
		t.Errorf("stranger: %+v, %v; want waiting for confirmation", res, err)
	}
	answer <- false // Cancel
	res, _ = d.handle(context.Background(), "tel:+19005550101")
	answer <- true // Call
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := len(called)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"sip:bob@example.org", "tel:+19005550101"}; strings.Join(called, ",") != strings.Join(want, ",") {
		t.Errorf("called %q, want %q", called, want)
	}
	if want := []string{"tel:+19005550100", "tel:+19005550101"}; strings.Join(asked, ",") != strings.Join(want, ",") {
		t.Errorf("asked about %q, want %q", asked, want)
	}
	d.ask = func(context.Context, string, string) (bool, error) { return false, tray.ErrNoConfirm }
	if _, err := d.handle(context.Background(), "tel:+19005550102"); err == nil || !strings.Contains(err.Error(), "trayphone call") {
		t.Errorf("without notifications: %v, want an error saying how to call by hand", err)
	}
}

func TestCheckLinkArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"sip:bob@example.org"}, true},
		{[]string{"--home", "/h", "tel:+1555"}, true},
		{[]string{"call", "sip:bob@example.org", "--home", "/h"}, true}, // a client command, not a link
		{[]string{"sip:a@b", "--home", `\\evil\share`}, false},
		{[]string{"sip:a@b --listen 0.0.0.0:5060"}, false},
		{[]string{"status", "--home", "/h"}, true},
		{[]string{"transfer", "1", "sip:carol@example.org", "--json", "--home", "/h"}, true}, // the URI is the command's second argument
		{[]string{"--home", "/h", "sip:a@b", "transfer", "1"}, false},
	} {
		if err := checkLinkArgs(tc.args); (err == nil) != tc.ok {
			t.Errorf("checkLinkArgs(%q) = %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
