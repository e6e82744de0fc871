package media

import "math"

// Voice activity detection for silence suppression: while the user is silent a G.711 or G.722
// stream sends no audio, only comfort-noise descriptors (RFC 3389, cng.go). The detector is
// energy based: a frame is speech when its level is clearly above the tracked noise floor and
// above an absolute minimum, and speech is held for a hangover after the last loud frame so word
// endings and short pauses are not clipped.

const (
	// vadHangoverFrames is how long speech is held after the last loud frame: 200 ms.
	vadHangoverFrames = 10
	// vadMarginDB is how far above the noise floor a frame must be to count as speech.
	vadMarginDB = 9
	// vadMinSpeechDB is the level, in dBov, below which a frame is never speech.
	vadMinSpeechDB = -50
	// vadFloorMaxDB caps the noise floor, so a long steady loud sound (a held note, a tone)
	// stays speech.
	vadFloorMaxDB = -30
	// vadFloorRiseDB is how fast the floor creeps up towards a louder steady background, per
	// frame: 2.5 dB/s.
	vadFloorRiseDB = 0.05
	// silenceDB is the level given to digital silence.
	silenceDB = -127
)

// vad decides, frame by frame, whether the user speaks. Its zero value is not ready: use newVAD.
// It allocates nothing.
type vad struct {
	floor float64 // noise floor, dBov
	hang  int     // hangover frames left
	// noise is the mean square of recent frames classified as silence, for the comfort-noise
	// level; haveNoise says it is set.
	noise     float64
	haveNoise bool
}

func newVAD() vad { return vad{floor: vadMinSpeechDB - vadMarginDB} }

// meanSquare returns the mean of the squared samples of pcm.
func meanSquare(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v)
		sum += f * f
	}
	return sum / float64(len(pcm))
}

// dBov converts a mean square to dB relative to the overload point: a full-scale square wave of
// 16-bit PCM (±32767) is 0 dBov (RFC 3389 §3.1). Digital silence is silenceDB.
func dBov(ms float64) float64 {
	const full = 32767.0 * 32767.0
	if ms <= full*1e-13 {
		return silenceDB
	}
	return max(10*math.Log10(ms/full), silenceDB)
}

// update classifies one frame and reports whether it is (or is held as) speech.
func (v *vad) update(pcm []int16) bool {
	ms := meanSquare(pcm)
	e := dBov(ms)
	loud := e > max(v.floor+vadMarginDB, vadMinSpeechDB)
	switch {
	case e < v.floor:
		// Quieter than the floor: follow it down quickly.
		v.floor += (e - v.floor) / 2
	default:
		v.floor = min(v.floor+min((e-v.floor)/20, vadFloorRiseDB), vadFloorMaxDB)
	}
	if loud {
		v.hang = vadHangoverFrames
		return true
	}
	if v.hang > 0 {
		v.hang--
		return true
	}
	if !v.haveNoise {
		v.noise, v.haveNoise = ms, true
	} else {
		v.noise += (ms - v.noise) / 4
	}
	return false
}

// level returns the background noise level for a comfort-noise descriptor, in -dBov (0-127).
func (v *vad) level() uint8 {
	if !v.haveNoise {
		return 127
	}
	return cnLevel(v.noise)
}
