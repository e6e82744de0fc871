// Package netns builds a home-router network out of three Linux network namespaces for tests
// (scripts/netns_up.sh): a "lan" behind a "nat" doing iptables MASQUERADE, and a "wan" where servers
// run. It is a test helper: import it only from _test.go files. It needs root (CI runs as root);
// without it the test is skipped locally and fails in CI.
//
//	n := netns.Up(t, netns.Options{AltIP: true})
//	n.Do(t, n.LAN, func() { conn, _ = net.ListenPacket("udp", "0.0.0.0:0") }) // a socket in lan
//
// Sockets keep the namespace they were made in, so a test can open them inside Do and use them
// from any goroutine. Namespace names carry a per-run prefix; Cleanup removes them and everything
// in them.
package netns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"trayphone/internal/testenv"
)

// Options shape the network.
type Options struct {
	// AltIP adds a second wan address (WANAlt) for RFC 5780 behaviour discovery.
	AltIP bool
	// Symmetric makes the NAT pick a new public port per destination (MASQUERADE --random-fully).
	Symmetric bool
}

// Net is a running lan → nat → wan network.
type Net struct {
	Prefix        string
	LAN, NAT, WAN string     // namespace names
	LANIP         netip.Addr // the phone's address, 10.201.1.2
	NATInner      netip.Addr // the router's lan side, 10.201.1.1
	NATOuter      netip.Addr // the router's wan side (the public address), 10.201.2.1
	WANIP         netip.Addr // the servers' address, 10.201.2.2
	WANAlt        netip.Addr // the second server address with AltIP, 10.201.2.3
	root          string
}

// Up creates the namespaces and removes them when t ends.
func Up(t testing.TB, opts Options) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "network namespaces need root")
	}
	testenv.RequireProgram(t, "ip")
	testenv.RequireProgram(t, "iptables")
	root := testenv.RepoRoot(t)
	n := &Net{
		Prefix:   fmt.Sprintf("tp%d%03d-", os.Getpid()%100000, rand.IntN(1000)),
		LANIP:    netip.MustParseAddr("10.201.1.2"),
		NATInner: netip.MustParseAddr("10.201.1.1"),
		NATOuter: netip.MustParseAddr("10.201.2.1"),
		WANIP:    netip.MustParseAddr("10.201.2.2"),
		root:     root,
	}
	n.LAN, n.NAT, n.WAN = n.Prefix+"lan", n.Prefix+"nat", n.Prefix+"wan"
	env := append(os.Environ(), "NS_PREFIX="+n.Prefix, "NET=10.201")
	if opts.AltIP {
		env = append(env, "ALT_IP=1")
		n.WANAlt = netip.MustParseAddr("10.201.2.3")
	}
	if opts.Symmetric {
		env = append(env, "SYMMETRIC=1")
	}
	t.Cleanup(n.down)
	cmd := exec.Command(filepath.Join(root, "scripts", "netns_up.sh"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("netns_up.sh: %v\n%s", err, out)
	}
	return n
}

func (n *Net) down() {
	cmd := exec.Command(filepath.Join(n.root, "scripts", "netns_down.sh"))
	cmd.Env = append(os.Environ(), "NS_PREFIX="+n.Prefix)
	cmd.Run()
}

// Run runs a command inside namespace ns and returns its combined output.
func (n *Net) Run(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// MustRun is Run that fails t on error.
func (n *Net) MustRun(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := n.Run(ns, args...)
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// Do runs f on an OS thread switched into namespace ns; sockets f opens stay in ns. The thread is
// switched back and thrown away afterwards, so no other code ever runs in ns. f runs on another
// goroutine: it must not call t.Fatal.
func (n *Net) Do(t testing.TB, ns string, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	// This goroutine returns when f does; its OS thread then exits with it.
	go func() {
		// Never unlocked: the thread dies with the goroutine (or, if it is the main thread, Go
		// parks it for good). It is switched back first anyway, because `ip netns pids` looks at
		// the main thread and netns_down.sh kills what it lists.
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		f()
		errc <- unix.Setns(orig, unix.CLONE_NEWNET)
	}()
	if err := <-errc; err != nil {
		t.Fatalf("enter namespace %s: %v", ns, err)
	}
}
