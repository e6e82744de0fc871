package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestTransferDrivenByCLI: three real trayphone processes. Alice calls Bob, Bob answers, and
// Alice runs "trayphone transfer ID CAROL --json"; "trayphone events" on Alice's phone follows the
// transfer to "succeeded". Bob's phone calls Carol, Carol answers, Alice's call ends, and Carol
// hears Bob's tone on the resulting call.
func TestTransferDrivenByCLI(t *testing.T) {
	a := startInstance(t, "alice", 604)
	b := startInstance(t, "bob", 1004)
	c := startInstance(t, "carol", 1400)
	bAddr, cAddr := b.status().Contact[0], c.status().Contact[0]

	a.cli("call", bAddr)
	b.waitCall(phone.CallIncoming)
	b.cli("answer")
	ab := a.waitCall(phone.CallActive)

	ev := exec.Command(binary, "events", "--home", a.home)
	stdout, err := ev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ev.Process.Kill(); _ = ev.Wait() })
	states := make(chan string, 16)
	go func() {
		defer close(states)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e phone.Event
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == phone.EventTransfer && e.Call != nil && e.Call.Transfer != nil {
				states <- e.Call.Transfer.State
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // the events stream is up

	var ci phone.CallInfo
	if err := json.Unmarshal([]byte(a.cli("transfer", ab.ID, cAddr, "--json")), &ci); err != nil {
		t.Fatal(err)
	}
	if ci.Transfer == nil || ci.Transfer.Target != cAddr || ci.Transfer.Role != "transferor" {
		t.Errorf("transfer --json: %+v, want transferor to %s", ci.Transfer, cAddr)
	}
	c.waitCall(phone.CallIncoming)
	c.cli("answer")
	var seen []string
	for deadline := time.After(10 * time.Second); len(seen) == 0 || seen[len(seen)-1] != "succeeded"; {
		select {
		case s, ok := <-states:
			if !ok {
				t.Fatalf("events ended; transfer went %v", seen)
			}
			seen = append(seen, s)
		case <-deadline:
			t.Fatalf("trayphone events: the transfer went %v, want it to succeed", seen)
		}
	}
	t.Logf("trayphone events: the transfer went %v", seen)
	a.waitNoCalls()
	bc := b.waitCall(phone.CallActive)
	if !strings.HasPrefix(bc.Remote, "sip:carol@") {
		t.Errorf("bob's call after the transfer is with %s, want carol", bc.Remote)
	}
	time.Sleep(2 * time.Second)
	c.cli("hangup")
	b.waitNoCalls()
	c.stop()
	checkHeard(t, c.out, 1004)
}
