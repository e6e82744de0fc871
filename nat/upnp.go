package nat

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"

	"github.com/huin/goupnp"
	"github.com/huin/goupnp/dcps/internetgateway2"
	"github.com/huin/goupnp/soap"
)

// igdClient is what the WANIPConnection:1/:2 and WANPPPConnection:1 clients of goupnp share.
type igdClient interface {
	AddPortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string,
		internalPort uint16, internalClient string, enabled bool, description string, leaseSeconds uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string) error
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
}

// UPnPTimeout bounds each request to an Internet Gateway Device and the SSDP search.
const UPnPTimeout = 3 * time.Second

// UPnPGateway is a UPnP Internet Gateway Device's WAN connection service.
type UPnPGateway struct {
	c     igdClient
	local string // our LAN address as the gateway sees it: the mappings' internal client
}

// DiscoverUPnP finds an Internet Gateway Device: the one whose device description is at root when
// root is not "", else the first that answers an SSDP search on the LAN. ctx bounds the search
// (SSDP waits about 2 s). It prefers WANIPConnection:2, then :1, then WANPPPConnection:1.
func DiscoverUPnP(ctx context.Context, root string) (*UPnPGateway, error) {
	var loc *url.URL
	if root != "" {
		u, err := url.Parse(root)
		if err != nil {
			return nil, errf("bad UPnP gateway address %q", root)
		}
		loc = u
	}
	type found struct {
		c  igdClient
		sc goupnp.ServiceClient
	}
	var all []found
	var errs []error
	if loc != nil {
		if cs, err := internetgateway2.NewWANIPConnection2ClientsByURLCtx(ctx, loc); err == nil {
			for _, c := range cs {
				all = append(all, found{c, c.ServiceClient})
			}
		} else {
			errs = append(errs, err)
		}
		if cs, err := internetgateway2.NewWANIPConnection1ClientsByURLCtx(ctx, loc); err == nil {
			for _, c := range cs {
				all = append(all, found{c, c.ServiceClient})
			}
		} else {
			errs = append(errs, err)
		}
		if cs, err := internetgateway2.NewWANPPPConnection1ClientsByURLCtx(ctx, loc); err == nil {
			for _, c := range cs {
				all = append(all, found{c, c.ServiceClient})
			}
		} else {
			errs = append(errs, err)
		}
	} else {
		// One search for gateways; each service type is then looked up in what answered.
		if cs, _, err := internetgateway2.NewWANIPConnection2ClientsCtx(ctx); err == nil {
			for _, c := range cs {
				all = append(all, found{c, c.ServiceClient})
			}
		}
		if cs, _, err := internetgateway2.NewWANIPConnection1ClientsCtx(ctx); err == nil {
			for _, c := range cs {
				all = append(all, found{c, c.ServiceClient})
			}
		}
		if cs, _, err := internetgateway2.NewWANPPPConnection1ClientsCtx(ctx); err == nil {
			for _, c := range cs {
				all = append(all, found{c, c.ServiceClient})
			}
		}
	}
	for _, f := range all {
		local, err := localIPToward(f.sc.Location)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return &UPnPGateway{c: f.c, local: local}, nil
	}
	if ctx.Err() != nil {
		return nil, errf("no UPnP gateway answered in time")
	}
	if len(errs) > 0 {
		return nil, errf("no usable UPnP gateway: %v", errors.Join(errs...))
	}
	return nil, errf("no UPnP gateway on this network")
}

// localIPToward is the address this machine uses to reach the host of u.
func localIPToward(u *url.URL) (string, error) {
	if u == nil {
		return "", errf("the UPnP gateway has no address")
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	c, err := net.Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return "", errf("cannot reach the UPnP gateway at %s: %w", u.Host, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// Name is "UPnP".
func (*UPnPGateway) Name() string { return "UPnP" }

// InternalClient is the LAN address the mappings point at.
func (g *UPnPGateway) InternalClient() string { return g.local }

// errOnlyPermanent is UPnP IGD error 725, OnlyPermanentLeasesSupported.
const errOnlyPermanent = 725

// Map asks for an external port forwarded to our internal port for lifetime. Gateways that only
// take permanent leases (error 725) get one; the mapping is then still renewed and removed at
// quit like any other. UPnP grants what was asked or fails, so granted is lifetime.
func (g *UPnPGateway) Map(proto string, internal, external int, lifetime time.Duration) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), UPnPTimeout)
	defer cancel()
	p := upnpProto(proto)
	err := g.c.AddPortMappingCtx(ctx, "", uint16(external), p, uint16(internal), g.local, true, "trayphone", uint32(lifetime/time.Second))
	var fault *soap.SOAPFaultError
	if errors.As(err, &fault) && fault.Detail.UPnPError.Errorcode == errOnlyPermanent {
		err = g.c.AddPortMappingCtx(ctx, "", uint16(external), p, uint16(internal), g.local, true, "trayphone", 0)
	}
	if err != nil {
		return 0, 0, errf("the UPnP gateway refused to map %s port %d: %w", proto, external, err)
	}
	return external, lifetime, nil
}

// Unmap removes the mapping of port (external and internal ports are the same in PortMap).
func (g *UPnPGateway) Unmap(proto string, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), UPnPTimeout)
	defer cancel()
	return g.c.DeletePortMappingCtx(ctx, "", uint16(port), upnpProto(proto))
}

// ExternalIP is the gateway's WAN address.
func (g *UPnPGateway) ExternalIP() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), UPnPTimeout)
	defer cancel()
	return g.c.GetExternalIPAddressCtx(ctx)
}

func upnpProto(p string) string {
	if p == "tcp" || p == "TCP" {
		return "TCP"
	}
	return "UDP"
}
