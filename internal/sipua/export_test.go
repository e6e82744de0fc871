package sipua

import (
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// setTCPTimeouts shortens the accepted connections' timeouts for a test.
func setTCPTimeouts(u *UA, firstByte, idle time.Duration) {
	u.tcp.firstByte, u.tcp.idle = firstByte, idle
}

// setUDPClock sets the clock the UDP peer expiry reads.
func setUDPClock(u *UA, now func() time.Time) { u.lc.now = now }

// startUAWithListener starts a user agent whose TCP listener is wrapped by wrap before the guard.
func startUAWithListener(t *testing.T, wrap func(net.Listener) net.Listener) *UA {
	t.Helper()
	ua, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ua.tcp.Listener = wrap(ua.tcp.Listener)
	ua.Server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	if err := ua.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return ua
}
