package nat

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/clock"
)

// fakeIGD is a minimal UPnP Internet Gateway Device: a device description with one
// WANIPConnection:1 service whose control URL answers AddPortMapping, DeletePortMapping and
// GetExternalIPAddress (SOAP 1.1, UPnP Device Architecture 1.1 section 3).
type fakeIGD struct {
	srv *httptest.Server

	mu            sync.Mutex
	actions       []string          // "Add UDP 5060->5060 127.0.0.1 lease 7200", "Delete UDP 5060"
	mappings      map[string]string // "UDP 5060" -> internal client
	onlyPermanent bool              // refuse non-zero leases with error 725
}

const igdDesc = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
 <specVersion><major>1</major><minor>0</minor></specVersion>
 <device>
  <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
  <friendlyName>test gateway</friendlyName>
  <UDN>uuid:11111111-2222-3333-4444-555555555555</UDN>
  <deviceList><device>
   <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
   <UDN>uuid:11111111-2222-3333-4444-666666666666</UDN>
   <deviceList><device>
    <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
    <UDN>uuid:11111111-2222-3333-4444-777777777777</UDN>
    <serviceList><service>
     <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
     <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
     <SCPDURL>/scpd.xml</SCPDURL>
     <controlURL>/ctl/ipconn</controlURL>
     <eventSubURL>/evt/ipconn</eventSubURL>
    </service></serviceList>
   </device></deviceList>
  </device></deviceList>
 </device>
</root>`

func newFakeIGD(t *testing.T) *fakeIGD {
	g := &fakeIGD{mappings: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/rootDesc.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
		io.WriteString(w, igdDesc)
	})
	mux.HandleFunc("/ctl/ipconn", g.control)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeIGD) url() string { return g.srv.URL + "/rootDesc.xml" }

// control answers one SOAP action.
func (g *fakeIGD) control(w http.ResponseWriter, r *http.Request) {
	const urn = "urn:schemas-upnp-org:service:WANIPConnection:1"
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	name, ok := strings.CutPrefix(action, urn+"#")
	if !ok {
		http.Error(w, "bad SOAPAction", http.StatusBadRequest)
		return
	}
	var env struct {
		Body struct {
			Args struct {
				ExternalPort   int    `xml:"NewExternalPort"`
				Protocol       string `xml:"NewProtocol"`
				InternalPort   int    `xml:"NewInternalPort"`
				InternalClient string `xml:"NewInternalClient"`
				Lease          int    `xml:"NewLeaseDuration"`
			} `xml:",any"`
		}
	}
	if err := xml.NewDecoder(r.Body).Decode(&env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a := env.Body.Args
	g.mu.Lock()
	defer g.mu.Unlock()
	reply := ""
	switch name {
	case "AddPortMapping":
		g.actions = append(g.actions, fmt.Sprintf("Add %s %d->%d %s lease %d", a.Protocol, a.ExternalPort, a.InternalPort, a.InternalClient, a.Lease))
		if g.onlyPermanent && a.Lease != 0 {
			fault(w, 725, "OnlyPermanentLeasesSupported")
			return
		}
		g.mappings[fmt.Sprintf("%s %d", a.Protocol, a.ExternalPort)] = a.InternalClient
	case "DeletePortMapping":
		g.actions = append(g.actions, fmt.Sprintf("Delete %s %d", a.Protocol, a.ExternalPort))
		key := fmt.Sprintf("%s %d", a.Protocol, a.ExternalPort)
		if _, ok := g.mappings[key]; !ok {
			fault(w, 714, "NoSuchEntryInArray")
			return
		}
		delete(g.mappings, key)
	case "GetExternalIPAddress":
		reply = "<NewExternalIPAddress>203.0.113.7</NewExternalIPAddress>"
	default:
		fault(w, 401, "Invalid Action")
		return
	}
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:%sResponse xmlns:u="%s">%s</u:%sResponse></s:Body></s:Envelope>`, name, urn, reply, name)
}

func fault(w http.ResponseWriter, code int, desc string) {
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>%d</errorCode><errorDescription>%s</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`, code, desc)
}

func (g *fakeIGD) log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.actions...)
}

// TestUPnPGateway: the adapter finds the WAN connection service from the device description's
// URL, maps and unmaps UDP and TCP ports for our LAN address, and reads the external address.
func TestUPnPGateway(t *testing.T) {
	igd := newFakeIGD(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gw, err := DiscoverUPnP(ctx, igd.url())
	if err != nil {
		t.Fatal(err)
	}
	if gw.Name() != "UPnP" || gw.InternalClient() != "127.0.0.1" {
		t.Errorf("gateway %s, internal client %q; want UPnP, 127.0.0.1", gw.Name(), gw.InternalClient())
	}
	if ip, err := gw.ExternalIP(); err != nil || ip != "203.0.113.7" {
		t.Errorf("external IP %q, %v; want 203.0.113.7", ip, err)
	}
	ext, granted, err := gw.Map("udp", 5062, 5062, time.Hour)
	if err != nil || ext != 5062 || granted != time.Hour {
		t.Fatalf("map: %d %v %v; want 5062 1h0m0s", ext, granted, err)
	}
	if _, _, err := gw.Map("tcp", 5062, 5062, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := gw.Unmap("udp", 5062); err != nil {
		t.Fatal(err)
	}
	if err := gw.Unmap("udp", 5062); err == nil {
		t.Error("a second unmap of the same port should fail (NoSuchEntryInArray)")
	}
	want := []string{"Add UDP 5062->5062 127.0.0.1 lease 3600", "Add TCP 5062->5062 127.0.0.1 lease 3600", "Delete UDP 5062", "Delete UDP 5062"}
	if got := igd.log(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions:\n got %q\nwant %q", got, want)
	}
}

// TestUPnPOnlyPermanent: a gateway that takes only permanent leases (error 725) gets one.
func TestUPnPOnlyPermanent(t *testing.T) {
	igd := newFakeIGD(t)
	igd.onlyPermanent = true
	gw, err := DiscoverUPnP(context.Background(), igd.url())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gw.Map("udp", 40000, 40000, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	want := []string{"Add UDP 40000->40000 127.0.0.1 lease 7200", "Add UDP 40000->40000 127.0.0.1 lease 0"}
	if got := igd.log(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions:\n got %q\nwant %q", got, want)
	}
}

// TestUPnPNoGateway: a URL where no gateway answers fails in plain words within the timeout.
func TestUPnPNoGateway(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := DiscoverUPnP(context.Background(), srv.URL+"/rootDesc.xml"); err == nil || !strings.Contains(err.Error(), "UPnP gateway") {
		t.Errorf("err = %v, want one about no UPnP gateway", err)
	}
}

// TestUPnPPortMapRenewal: PortMap over the UPnP adapter maps at start, renews at half the
// lease on the fake clock, and deletes the mapping on quit.
func TestUPnPPortMapRenewal(t *testing.T) {
	igd := newFakeIGD(t)
	gw, err := DiscoverUPnP(context.Background(), igd.url())
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	m := NewPortMap(gw, "udp", 5062, clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Serve(ctx) }()
	waitActions := func(n int) {
		t.Helper()
		for i := 0; len(igd.log()) < n || clk.Timers() < 1; i++ {
			if i > 5000 {
				t.Fatalf("gateway actions: %q, want %d", igd.log(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitTimers(t, clk, 1)
	clk.Advance(0)
	waitActions(1)
	if m.External() != 5062 {
		t.Errorf("external: got %d, want 5062", m.External())
	}
	clk.Advance(59 * time.Minute) // the lease is 2 h: no renewal before 1 h
	if n := len(igd.log()); n != 1 {
		t.Errorf("actions before renewal: %d, want 1", n)
	}
	clk.Advance(time.Minute)
	waitActions(2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{"Add UDP 5062->5062 127.0.0.1 lease 7200", "Add UDP 5062->5062 127.0.0.1 lease 7200", "Delete UDP 5062"}
	if got := igd.log(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions:\n got %q\nwant %q", got, want)
	}
}
