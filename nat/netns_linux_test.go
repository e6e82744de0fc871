package nat

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/siptest/coturn"
	"trayphone/internal/siptest/netns"
)

// TestDiscoverBehindNAT puts a socket in a lan namespace behind an iptables MASQUERADE router and
// asks a coturn with two wan addresses: the phone must find the router's outer address and the
// NAT type (plain MASQUERADE keeps the source port per flow: endpoint-independent mapping;
// --random-fully picks a new port per destination: symmetric). Linux conntrack filters by
// address and port.
func TestDiscoverBehindNAT(t *testing.T) {
	for _, c := range []struct {
		name      string
		symmetric bool
		mapping   Behavior
		typ       string
	}{
		{"masquerade", false, EndpointIndependent, "endpoint-independent"},
		{"random-fully", true, AddressPortDependent, "symmetric"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := netns.Up(t, netns.Options{AltIP: true, Symmetric: c.symmetric})
			srv := coturn.Start(t, coturn.Options{NetNS: n.WAN, IPs: []string{n.WANIP.String(), n.WANAlt.String()}})
			var conn net.PacketConn
			var err error
			n.Do(t, n.LAN, func() { conn, err = net.ListenPacket("udp4", n.LANIP.String()+":0") })
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			rep, err := DiscoverConn(ctx, conn, srv.Addr())
			if err != nil {
				t.Fatalf("discover: %v\n%s", err, srv.Log())
			}
			t.Logf("report %+v (type %s) in %v", rep, rep.Type(), time.Since(start).Round(time.Millisecond))
			if rep.Public.Addr() != n.NATOuter {
				t.Errorf("public address: got %v, want the NAT's outer %v", rep.Public.Addr(), n.NATOuter)
			}
			if rep.Local.Addr() != n.LANIP {
				t.Errorf("local address: got %v, want %v", rep.Local.Addr(), n.LANIP)
			}
			if rep.Mapping != c.mapping || rep.Type() != c.typ {
				t.Errorf("mapping: got %v (%s), want %v (%s)", rep.Mapping, rep.Type(), c.mapping, c.typ)
			}
			if rep.Filtering != AddressPortDependent {
				t.Errorf("filtering: got %v, want address-and-port-dependent (conntrack)", rep.Filtering)
			}
		})
	}
}

// TestMonitorNetlink replaces the lan address inside a namespace: the netlink monitor opened there
// must report it.
func TestMonitorNetlink(t *testing.T) {
	n := netns.Up(t, netns.Options{})
	var m *Monitor
	var err error
	n.Do(t, n.LAN, func() { m, err = NewMonitor() })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	n.MustRun(t, n.LAN, "ip", "addr", "add", "10.201.1.3/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "addr", "del", "10.201.1.2/24", "dev", "lan0")
	select {
	case c := <-m.Changes():
		t.Logf("change %+v after %v", c, time.Since(start).Round(time.Millisecond))
		if c.Reason != "network" || !strings.Contains(c.Detail, "address") {
			t.Errorf("got %+v, want a network change about addresses", c)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no change reported within 3 s of replacing the address")
	}
}

// TestServiceNetworkChange runs the Service behind the NAT with a monitor in the lan namespace:
// it finds the public address, and when the lan address and default route are replaced it calls
// OnChange (where the phone kicks its registrations) at once and discovers again.
func TestServiceNetworkChange(t *testing.T) {
	n := netns.Up(t, netns.Options{AltIP: true})
	srv := coturn.Start(t, coturn.Options{NetNS: n.WAN, IPs: []string{n.WANIP.String(), n.WANAlt.String()}})
	var m *Monitor
	var err error
	n.Do(t, n.LAN, func() { m, err = NewMonitor() })
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan Change, 4)
	svc := NewService(ServiceConfig{
		STUN: srv.Addr().String(), Watcher: m, Recheck: time.Hour,
		OnChange: func(c Change) { changed <- c },
		Listen: func(network, addr string) (c net.PacketConn, err error) {
			n.Do(t, n.LAN, func() { c, err = net.ListenPacket(network, addr) })
			return c, err
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.Run(ctx) }()
	go func() { defer wg.Done(); svc.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	waitRuns(t, svc, 1)
	info := svc.Info()
	if !strings.HasPrefix(info.Public, n.NATOuter.String()+":") || info.Type != "endpoint-independent" {
		t.Fatalf("status: got %+v, want public %v:* and endpoint-independent", info, n.NATOuter)
	}
	start := time.Now()
	// Deleting the primary address takes the default route with it, as moving networks does.
	n.MustRun(t, n.LAN, "ip", "addr", "del", "10.201.1.2/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "addr", "add", "10.201.1.7/24", "dev", "lan0")
	n.MustRun(t, n.LAN, "ip", "route", "add", "default", "via", n.NATInner.String())
	select {
	case c := <-changed:
		t.Logf("OnChange %+v after %v", c, time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("no OnChange within 5 s of the network change")
	}
	waitRuns(t, svc, 2)
	if rep, err := svc.Report(); err != nil || rep.Public.Addr() != n.NATOuter {
		t.Errorf("after the change: got %+v, %v; want public %v", rep, err, n.NATOuter)
	}
}

func waitRuns(t *testing.T, svc *Service, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for svc.Runs() < n {
		if time.Now().After(deadline) {
			t.Fatalf("discovery runs: got %d, want %d", svc.Runs(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
