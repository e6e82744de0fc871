package callmgr

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
)

// TestTortureMessages throws the RFC 4475 torture messages at the SIP port: the phone must not
// crash, hang or leak, must not answer an invalid message with success, must not ring for any of
// them, and must still place and take calls afterwards.
func TestTortureMessages(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: a.ua.Port}

	for _, kind := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("..", "testdata", "rfc4475", kind, "*.dat"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no torture messages in testdata/rfc4475/%s: %v", kind, err)
		}
		for _, f := range files {
			msg, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.WriteToUDP(msg, dst); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			codes := readStatusCodes(conn, 100*time.Millisecond)
			t.Logf("%s/%s: responses %v", kind, filepath.Base(f), codes)
			for _, c := range codes {
				if kind == "invalid" && c >= 200 && c < 300 {
					t.Errorf("%s: invalid message answered with %d", filepath.Base(f), c)
				}
			}
		}
	}
	if st := a.mgr.Status(); len(st.Calls) != 0 {
		t.Errorf("torture messages created calls: %+v", st.Calls)
	}
	for _, r := range a.mgr.Recent() {
		t.Errorf("torture message left a call in the history: %+v", r)
	}
	// Still a working phone, both ways.
	ca, _ := established(t, a, b)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	_, ca = established(t, b, a)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
}

// readStatusCodes collects the status codes of responses arriving within d.
func readStatusCodes(conn *net.UDPConn, d time.Duration) []int {
	var codes []int
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return codes
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "SIP/2.0" {
			if c, err := strconv.Atoi(f[1]); err == nil {
				codes = append(codes, c)
			}
		}
	}
}
