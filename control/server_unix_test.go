//go:build unix

package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test of a peer of another user: Unix credentials (SO_PEERCRED, setuid children).

// peerEnv names the socket a child process should connect to as another user.
const peerEnv = "TRAYPHONE_CONTROL_TEST_PEER"

func TestMain(m *testing.M) {
	if path := os.Getenv(peerEnv); path != "" {
		os.Exit(peerChild(path))
	}
	os.Exit(m.Run())
}

// peerChild connects to the socket at path, sends hello and prints the first answer line.
func peerChild(path string) int {
	conn, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, `{"v":1,"id":1,"cmd":"hello"}`+"\n")
	line, _ := bufio.NewReader(conn).ReadBytes('\n')
	os.Stdout.Write(line)
	return 0
}

func TestOtherUserRejected(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a peer as another user")
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no peer credentials on " + runtime.GOOS)
	}
	ts := startServer(t)
	// Open the way on purpose, as if the directory permissions were wrong, so that only the peer
	// credential check stands between the other user and the core. The test binary is copied to a
	// place the other user may run it from.
	shared, err := os.MkdirTemp("", "trayphone-peer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(shared, "control.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{shared: 0o755, filepath.Dir(ts.path): 0o755, ts.path: 0o777} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(ts.path)); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(d, fi.Mode().Perm())
		}
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), peerEnv+"="+ts.path)
	cmd.Dir = shared
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var resp Response
	if err := json.Unmarshal(bytes.TrimSpace(out), &resp); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if resp.OK || !strings.Contains(resp.Error, "permission denied: this trayphone belongs to uid 0, not uid 65534") {
		t.Errorf("got %+v, want a permission-denied refusal", resp)
	}
}
