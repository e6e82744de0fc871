package media_test
import ("math/rand/v2";"testing";"time";"trayphone/internal/audiotest";"trayphone/media")
func TestDbgOpusLoss(t *testing.T){
	for _, codec := range []media.Codec{media.Opus, media.PCMU} {
	rng := rand.New(rand.NewPCG(1,2))
	f := newFarEnd(codec, 20*time.Millisecond)
	played := runFarEnd(t, f, 6, func(tick int, made [][]byte) [][]byte {
		var out [][]byte
		for _, p := range made { if rng.Float64() >= 0.05 { out = append(out, p) } }
		return out
	})
	c, _ := audiotest.MeasureCall(played, codec.SampleRate, 1004)
	t.Log(codec.Name, c)
	}
}
