//go:build linux && !trayphone_netpoll

package nat

import "testing"

// FuzzDescribeNetlink feeds arbitrary bytes to the rtnetlink message reader: it must never panic.
func FuzzDescribeNetlink(f *testing.F) {
	// RTM_NEWADDR header (len 16+8, type 20) and an RTM_NEWROUTE in the main table (type 24).
	f.Add([]byte{24, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 24, 0, 0, 2, 0, 0, 0})
	f.Add([]byte{28, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { _ = describeNetlink(b) })
}
