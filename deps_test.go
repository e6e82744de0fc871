package main

import (
	"testing"

	"trayphone/internal/deptest"
)

// TestMainHoldsNoProtocol: main is flags, CLI verbs and the construct → start → stop order
// (docs/ARCHITECTURE.md); STUN, TURN, RTP and SIP transactions belong to the packages below it.
func TestMainHoldsNoProtocol(t *testing.T) {
	deptest.ForbidImports(t, "github.com/pion/", "github.com/emiago/sipgo/sip")
}
