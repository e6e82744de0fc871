//go:build (!linux && !darwin && !windows) || trayphone_netpoll

package nat

import "trayphone/internal/clock"

func newOSSource(clk clock.Clock) (source, error) { return newPollSource(clk, nil), nil }
