package media

import (
	"net"
	"net/netip"
	"testing"
)

var sessLoopback = netip.MustParseAddr("127.0.0.1")

func sessPort(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

func TestListenRTPEphemeral(t *testing.T) {
	t.Parallel()
	for range 5 {
		rtp, rtcp, err := ListenRTP(sessLoopback, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		p, q := sessPort(rtp), sessPort(rtcp)
		rtp.Close()
		rtcp.Close()
		if p%2 != 0 || q != p+1 {
			t.Fatalf("got rtp %d rtcp %d, want an even port and the one above", p, q)
		}
	}
}

func TestListenRTPRangeSkipsTakenPorts(t *testing.T) {
	t.Parallel()
	// A free pair to build the range on; keeping it open makes it the taken pair.
	taken, takenRTCP, err := ListenRTP(sessLoopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	defer takenRTCP.Close()
	p := sessPort(taken)
	if p+3 > 65535 {
		t.Skip("ephemeral pair at the top of the port space")
	}
	rtp, rtcp, err := ListenRTP(sessLoopback, p, p+3)
	if err != nil {
		t.Skipf("ports %d-%d in use by someone else: %v", p+2, p+3, err)
	}
	defer rtp.Close()
	defer rtcp.Close()
	if got := sessPort(rtp); got != p+2 {
		t.Errorf("rtp port: got %d, want %d", got, p+2)
	}
	if got := sessPort(rtcp); got != p+3 {
		t.Errorf("rtcp port: got %d, want %d", got, p+3)
	}
	// Only the taken pair in range: an error naming the range.
	if _, _, err := ListenRTP(sessLoopback, p, p+1); err == nil {
		t.Errorf("range of one taken pair: got no error")
	}
}

func TestListenRTPInvalidRange(t *testing.T) {
	t.Parallel()
	for _, r := range [][2]int{{10, 5}, {-2, 10}, {7, 7}, {0, 100}, {65534, 65536}} {
		if rtp, rtcp, err := ListenRTP(sessLoopback, r[0], r[1]); err == nil {
			rtp.Close()
			rtcp.Close()
			t.Errorf("range %d-%d: got no error", r[0], r[1])
		}
	}
}
