// Package coturn starts a real coturn turnserver (STUN, RFC 5780 behaviour discovery, TURN) for
// tests. It is a test helper: import it only from _test.go files.
//
//	srv := coturn.Start(t, coturn.Options{IPs: []string{"127.0.0.1", "127.0.0.2"}})
//	// srv.Addr() is 127.0.0.1:PORT; with two IPs the server answers RFC 5780 CHANGE-REQUESTs
//	// from 127.0.0.2 and PORT+1.
//
// # What was seen (Debian 12 package coturn, "Coturn-4.6.1 'Gorst'")
//
// With more than one listening IP of a family coturn turns on RFC 5780 (OTHER-ADDRESS in binding
// responses; the alternate port is the listening port plus one). It writes a pid file to
// /var/run/turnserver.pid and opens an SQLite user database under /var/lib/turn unless told
// otherwise, so every instance here gets its own --pidfile and --db in t.TempDir(). "socket:
// Protocol not supported" lines at start-up (SCTP) are harmless. It is ready when the log says
// "IO method (admin thread)"; we then also wait a little for the listeners. Start-up takes
// 20-60 ms.
package coturn

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"trayphone/internal/testenv"
)

// Options says how to run turnserver.
type Options struct {
	// IPs are the listening (and relay) addresses; the first is the primary. Two make RFC 5780
	// behaviour discovery work. Empty means 127.0.0.1.
	IPs []string
	// Port is the listening port; 0 picks a random high even port (Port+1 is the alternate port).
	Port int
	// NetNS, if set, runs the server inside that network namespace (ip netns exec).
	NetNS string
	// User and Password turn on TURN with long-term credentials (realm Realm, default
	// "test.local"); without them the server is STUN-only.
	User, Password, Realm string
	// AllowLoopbackPeers lets TURN relay to 127.x addresses (for loopback tests).
	AllowLoopbackPeers bool
}

// Server is a running turnserver.
type Server struct {
	opts Options
	cmd  *exec.Cmd
	log  string
	done chan struct{}

	mu    sync.Mutex
	lines []string
}

// Start runs turnserver and stops it when t ends. It skips (or fails in CI) without turnserver.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := testenv.RequireProgram(t, "turnserver")
	if len(opts.IPs) == 0 {
		opts.IPs = []string{"127.0.0.1"}
	}
	if opts.Port == 0 {
		opts.Port = 20000 + 2*rand.IntN(10000)
	}
	if opts.Realm == "" {
		opts.Realm = "test.local"
	}
	dir := t.TempDir()
	args := []string{"-n", "--listening-port=" + strconv.Itoa(opts.Port), "--no-cli", "--no-tls", "--no-dtls",
		"--log-file=stdout", "--simple-log", "--pidfile=" + filepath.Join(dir, "turnserver.pid"),
		"--db=" + filepath.Join(dir, "turndb"), "--min-port=40000", "--max-port=59999"}
	for _, ip := range opts.IPs {
		args = append(args, "--listening-ip="+ip, "--relay-ip="+ip)
	}
	if opts.User != "" {
		args = append(args, "--lt-cred-mech", "--user="+opts.User+":"+opts.Password, "--realm="+opts.Realm)
	} else {
		args = append(args, "--stun-only")
	}
	if opts.AllowLoopbackPeers {
		args = append(args, "--allow-loopback-peers")
	}
	var cmd *exec.Cmd
	if opts.NetNS != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", opts.NetNS, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	s := &Server{opts: opts, cmd: cmd, log: filepath.Join(dir, "turnserver.log"), done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("start turnserver: %v", err)
	}
	ready := make(chan struct{})
	logf, _ := os.Create(s.log)
	// This goroutine copies the log; it returns when the process closes its output (it exited).
	go func() {
		defer close(s.done)
		defer logf.Close()
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			s.mu.Lock()
			s.lines = append(s.lines, line)
			s.mu.Unlock()
			if strings.Contains(line, "admin thread") {
				once.Do(func() { close(ready) })
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
	}()
	t.Cleanup(s.stop)
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("turnserver exited at start-up; log:\n%s", s.Log())
	case <-time.After(10 * time.Second):
		t.Fatalf("turnserver not ready after 10 s; log:\n%s", s.Log())
	}
	time.Sleep(50 * time.Millisecond) // listener threads start right after the admin thread
	return s
}

// Addr is the primary listening address.
func (s *Server) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(s.opts.IPs[0]), uint16(s.opts.Port))
}

// AltAddr is the RFC 5780 alternate address (second IP, port+1); invalid with one IP.
func (s *Server) AltAddr() netip.AddrPort {
	if len(s.opts.IPs) < 2 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.MustParseAddr(s.opts.IPs[1]), uint16(s.opts.Port+1))
}

// Realm is the TURN realm.
func (s *Server) Realm() string { return s.opts.Realm }

// Log returns what turnserver printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func (s *Server) stop() {
	if s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}
