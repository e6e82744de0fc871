package nat

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	natpmp "github.com/jackpal/go-nat-pmp"
)

// DiscoverPMP asks the router at ip for its external address (RFC 6886 §3.2). A router that
// answers within timeout speaks NAT-PMP: the returned Gateway maps ports on it.
func DiscoverPMP(ip net.IP, timeout time.Duration) (Gateway, net.IP, error) {
	c := natpmp.NewClientWithTimeout(ip, timeout)
	r, err := c.GetExternalAddress()
	if err != nil {
		return nil, nil, fmt.Errorf("no NAT-PMP answer from the router %s: %w", ip, err)
	}
	return pmpGateway{c}, net.IP(r.ExternalIPAddress[:]), nil
}

// DefaultGateway returns the IPv4 router of the default route, from /proc/net/route on Linux.
func DefaultGateway() (net.IP, error) {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil, fmt.Errorf("find the router: %w", err)
	}
	return parseRoutes(data)
}

// parseRoutes finds the default route's gateway in the text of /proc/net/route: columns Iface,
// Destination, Gateway, Flags, ... with addresses as little-endian hex.
func parseRoutes(data []byte) (net.IP, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Scan() // the header line
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[1] != "00000000" {
			continue
		}
		var gw [4]byte
		if len(f[2]) != 8 {
			continue
		}
		if n, err := hex.Decode(gw[:], []byte(f[2])); err != nil || n != 4 {
			continue
		}
		if len(f[3]) > 8 {
			continue
		}
		flags, err := hex.DecodeString(fmt.Sprintf("%08s", f[3]))
		if err != nil || len(flags) != 4 || binary.BigEndian.Uint32(flags)&0x3 != 0x3 { // RTF_UP|RTF_GATEWAY
			continue
		}
		// The kernel prints the address in host (little-endian) byte order.
		return net.IPv4(gw[3], gw[2], gw[1], gw[0]), nil
	}
	return nil, errors.New("no default route through a router")
}
