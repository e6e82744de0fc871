package media

import (
	"math"
	"testing"
)

func TestEModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		codec          string
		delay, loss    float64
		wantR, wantMOS float64
	}{
		// G.107's default connection: R 93.2 less 0.024·d; MOS 4.41 at R 93.2.
		{"PCMU", 0, 0, 93.2, 4.41},
		{"PCMA", 100, 0, 90.8, 4.36},
		// Past 177.3 ms the delay term steepens.
		{"PCMU", 300, 0, 93.2 - 7.2 - 0.11*122.7, 3.71},
		// 1 % random loss with Bpl 25.1: Ie-eff = 95/26.1 = 3.64.
		{"PCMU", 0, 1, 93.2 - 95.0/26.1, 4.33},
		// 10 % loss: Ie-eff = 950/35.1 = 27.07.
		{"G722", 0, 10, 93.2 - 950.0/35.1, 3.41},
		{"opus", 0, 10, 93.2 - 950.0/40, 3.57},
		// Everything lost.
		{"PCMU", 0, 100, 93.2 - 9500.0/125.1, 1.18},
	}
	for _, tt := range tests {
		r := EModelR(tt.codec, tt.delay, tt.loss)
		mos := MOSFromR(r)
		if math.Abs(r-tt.wantR) > 0.01 || math.Abs(mos-tt.wantMOS) > 0.01 {
			t.Errorf("%s, %g ms, %g %% loss: got R %.2f MOS %.2f, want R %.2f MOS %.2f",
				tt.codec, tt.delay, tt.loss, r, mos, tt.wantR, tt.wantMOS)
		}
	}
	if MOSFromR(-5) != 1 || MOSFromR(120) != 4.5 {
		t.Error("MOS is not clamped to 1-4.5")
	}
	prev := 5.0
	for loss := 0.0; loss <= 30; loss += 2 {
		m := EstimateMOS("PCMU", 40, loss)
		if m >= prev {
			t.Errorf("MOS at %g %% loss (%.2f) is not below the one at less loss (%.2f)", loss, m, prev)
		}
		prev = m
	}
}
