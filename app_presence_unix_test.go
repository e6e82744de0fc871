//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"trayphone/internal/paths"
	"trayphone/internal/siptest/kamailio"
)

// TestVoicemailAndLinesInStatus runs the real phone with an account at Kamailio (presence
// modules), voicemail = "*97" and a favorite in the account's domain: once registered it
// subscribes by itself; a voicemail server's PUBLISH shows in "trayphone status --json" as the
// account's count, the favorite's line as idle.
func TestVoicemailAndLinesInStatus(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{Presence: true})
	home := t.TempDir()
	p := paths.Resolve(home)
	cfg := fmt.Sprintf("[favorites]\n\"Front desk\" = \"sip:bob@%s\"\n\n[[account]]\nid = \"work\"\naor = \"sip:alice@%s\"\nvoicemail = \"*97\"\n", k.Domain(), k.Domain())
	if err := os.WriteFile(p.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := secretsDir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password-work"), []byte("alicepw"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(withoutSessionBus(os.Environ()), "HOME="+t.TempDir(), "XDG_RUNTIME_DIR="+t.TempDir())
	cmd := exec.Command(binary, "--home", home, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--headless", "--audio-in", "null", "--audio-out", "null")
	cmd.Env = env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("trayphone log:\n%s", log.String())
		}
	})

	type status struct {
		Accounts []struct {
			State        string `json:"state"`
			VoicemailURI string `json:"voicemail_uri"`
			Voicemail    *struct {
				New, Old int
			} `json:"voicemail"`
		} `json:"accounts"`
		Favorites []struct {
			Name, State string
		} `json:"favorites"`
	}
	get := func() (status, string) {
		c := exec.Command(binary, "--home", home, "status", "--json")
		c.Env = env
		out, _ := c.Output()
		var st status
		_ = json.Unmarshal(out, &st)
		return st, string(out)
	}
	wait := func(what string, ok func(status) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			st, raw := get()
			if ok(st) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("status --json shows no %s within 15 s:\n%s", what, raw)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("registered account with its voicemail box and an idle favorite", func(st status) bool {
		return len(st.Accounts) == 1 && st.Accounts[0].State == "registered" &&
			st.Accounts[0].VoicemailURI == "sip:*97@"+k.Domain() &&
			len(st.Favorites) == 1 && st.Favorites[0].Name == "Front desk" && st.Favorites[0].State == "idle"
	})
	publish(t, k, "alice", "Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n")
	wait("voicemail 2 new, 8 old", func(st status) bool {
		return len(st.Accounts) == 1 && st.Accounts[0].Voicemail != nil && st.Accounts[0].Voicemail.New == 2 && st.Accounts[0].Voicemail.Old == 8
	})
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("trayphone exited with %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("trayphone did not exit within 8 s")
	}
}

// publish sends a message-summary PUBLISH for user to Kamailio, as a voicemail server would.
func publish(t *testing.T, k *kamailio.Kamailio, user, body string) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cl, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+user+"@"+k.Domain(), &uri); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.PUBLISH, uri)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "voicemail", Host: "vm.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", "vm1")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Expires", "60"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/simple-message-summary"))
	req.SetBody([]byte(body))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := cl.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("PUBLISH: %v %v", res, err)
	}
}
