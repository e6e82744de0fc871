//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/paths"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/kamailio"
)

// TestSignalsUnregister runs the phone registered at a real Kamailio and ends it with SIGHUP (the
// desktop session ends) and with SIGTERM: both must remove the binding from Kamailio's location
// table and exit cleanly within the bounded shutdown. The phone runs without a session bus: it
// must keep the password in its 0600 file, say so, and never start one (no dbus-launch).
func TestSignalsUnregister(t *testing.T) {
	k := kamailio.Start(t, kamailio.Options{})
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			home := t.TempDir()
			p := paths.Resolve(home)
			cfg := fmt.Sprintf("[[account]]\nid = \"work\"\naor = \"sip:alice@%s\"\n", k.Domain())
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
			userHome, runtime := t.TempDir(), t.TempDir()
			port := freePort(t)
			cmd := exec.Command(binary, "--home", home, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
				"--headless", "--audio-in", "null", "--audio-out", "null")
			cmd.Env = append(withoutSessionBus(os.Environ()), "HOME="+userHome, "XDG_RUNTIME_DIR="+runtime)
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				for _, pid := range processesWithHome("dbus-daemon", userHome) {
					_ = syscall.Kill(pid, syscall.SIGTERM) // one the phone should not have started
				}
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-done
				}
				if t.Failed() {
					t.Logf("trayphone log:\n%s", log.String())
				}
			})
			ours := func() []kamailio.Contact {
				cs, _ := k.Contacts("alice")
				var out []kamailio.Contact
				for _, c := range cs {
					if strings.Contains(c.Address, fmt.Sprintf(":%d;", port)) {
						out = append(out, c)
					}
				}
				return out
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				cs := ours()
				if len(cs) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not registered within 10 s: %+v", cs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			start := time.Now()
			_ = cmd.Process.Signal(sig)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("trayphone exited with %v after %s", err, sig)
				}
			case <-time.After(8 * time.Second):
				t.Fatalf("trayphone did not exit within 8 s of %s", sig)
			}
			t.Logf("exited %s after %s", time.Since(start).Round(time.Millisecond), sig)
			if cs := ours(); len(cs) != 0 {
				t.Errorf("bindings after %s: %+v, want none", sig, cs)
			}
			if pids := processesWithHome("dbus-daemon", userHome); len(pids) > 0 {
				t.Errorf("a session bus was started behind the user's back: dbus-daemon %v", pids)
			}
			if n := strings.Count(log.String(), "no OS keyring available"); n != 1 || !strings.Contains(log.String(), "no session bus") {
				t.Errorf("the log says %d times that secrets are kept in a file, want once, saying there is no session bus", n)
			}
		})
	}
}

// withoutSessionBus drops the session bus address from env.
func withoutSessionBus(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "DBUS_SESSION_BUS_ADDRESS=") {
			out = append(out, e)
		}
	}
	return out
}

// processesWithHome lists the processes named name whose environment has HOME=home (Linux /proc).
func processesWithHome(name, home string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if strings.TrimSpace(string(comm)) != name {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		for _, e := range strings.Split(string(env), "\x00") {
			if e == "HOME="+home {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestSIGHUPHangsUp ends a phone that is in a call with SIGHUP (the desktop session ends): it must
// hang up (the far end's call ends at once, by BYE) and exit cleanly within the bounded shutdown.
func TestSIGHUPHangsUp(t *testing.T) {
	a := startInstance(t, "alice", 600)
	b := startInstance(t, "bob", 1000)
	a.cli("call", b.status().Contact[0])
	b.waitCall(phone.CallIncoming)
	b.cli("answer")
	a.waitCall(phone.CallActive)
	b.waitCall(phone.CallActive)

	start := time.Now()
	_ = a.cmd.Process.Signal(syscall.SIGHUP)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("alice exited with %v after SIGHUP", err)
		}
	case <-time.After(8 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
		t.Fatal("alice did not exit within 8 s of SIGHUP")
	}
	t.Logf("alice exited %s after SIGHUP", time.Since(start).Round(time.Millisecond))
	deadline := time.Now().Add(2 * time.Second)
	for len(b.status().Calls) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("bob still in the call 2 s after alice got SIGHUP: %+v", b.status().Calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
