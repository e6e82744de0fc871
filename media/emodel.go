package media

import "strings"

// The E-model, ITU-T G.107 (https://www.itu.int/rec/T-REC-G.107), in the simplified form that
// RTP monitors use: every impairment at its default except delay (Id) and the codec with packet
// loss (Ie-eff), on the narrowband R scale, with codec values from ITU-T G.113 Appendix I.
//
//	R = 93.2 − Id − Ie-eff
//	Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)           (d: one-way delay in ms)
//	Ie-eff = Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl)       (Ppl: loss in %, BurstR = 1: random)
//	MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶        (0 < R < 100)

// codecImpairment holds a codec's equipment impairment Ie and packet-loss robustness Bpl.
type codecImpairment struct{ ie, bpl float64 }

// codecImpairments are G.113 Appendix I values where it gives them (G.711 with packet loss
// concealment: Ie 0, Bpl 25.1). G.722 and Opus are wideband codecs that G.113's narrowband
// table does not list; on the narrowband scale they are at least as good as G.711, so they get
// Ie 0, and their concealment (Opus: FEC and PLC) is credited like G.711's, a conservative choice.
var codecImpairments = map[string]codecImpairment{
	"PCMU": {0, 25.1},
	"PCMA": {0, 25.1},
	"G722": {0, 25.1},
	"OPUS": {0, 30},
}

// EModelR returns the G.107 transmission rating R for codec (by SDP name) with one-way delay
// delayMS and packet loss lossPct (0-100).
func EModelR(codec string, delayMS, lossPct float64) float64 {
	ci, ok := codecImpairments[strings.ToUpper(codec)]
	if !ok {
		ci = codecImpairment{ie: 10, bpl: 10} // an unknown codec: a middling narrowband one
	}
	d := max(delayMS, 0)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := min(max(lossPct, 0), 100)
	ieEff := ci.ie + (95-ci.ie)*ppl/(ppl+ci.bpl)
	return 93.2 - id - ieEff
}

// MOSFromR maps an R rating to the estimated mean opinion score, 1 to 4.5 (G.107 Annex B).
func MOSFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}

// EstimateMOS is MOSFromR(EModelR(codec, delayMS, lossPct)).
func EstimateMOS(codec string, delayMS, lossPct float64) float64 {
	return MOSFromR(EModelR(codec, delayMS, lossPct))
}
