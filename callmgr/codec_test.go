//go:build cgo

// Opus and G.722 are cgo leaf packages (media/codec/...): this file tests them, so it builds
// with cgo only.

package callmgr

import (
	"strings"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/media"
	"trayphone/media/codec/g722"
	"trayphone/media/codec/opus"
)

// minSINAD is the whole-call SINAD a tone must keep through codec: 35 dB for G.711 and G.722,
// 30 dB for Opus.
func minSINAD(codec media.Codec) float64 {
	if codec.Name == opus.Codec.Name {
		return 30
	}
	return 35
}

// TestWidebandLoopback calls between two cores with each wideband codec first in the caller's
// list and checks that each side hears the other's tone. The callee offers everything, so the
// caller's preference decides.
func TestWidebandLoopback(t *testing.T) {
	all := []media.Codec{opus.Codec, g722.Codec, media.PCMU, media.PCMA}
	for _, codec := range []media.Codec{opus.Codec, g722.Codec} {
		t.Run(codec.Name, func(t *testing.T) {
			checkGoroutines(t)
			a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{codec, media.PCMU}})
			b := startCore(t, "bob", coreOpts{toneHz: 1004, codecs: all})
			ca, cb := established(t, a, b)
			if ca.Codec != codec.Name || cb.Codec != codec.Name {
				t.Fatalf("codecs %s/%s, want %s", ca.Codec, cb.Codec, codec.Name)
			}
			time.Sleep(3 * time.Second)
			logMedia(t, a, b)
			if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
				t.Fatal(err)
			}
			a.waitState(5*time.Second, phone.CallEnded)
			b.waitState(5*time.Second, phone.CallEnded)
			a.stop()
			b.stop()
			checkTone(t, a.out, 1004, minSINAD(codec))
			checkTone(t, b.out, 604, minSINAD(codec))
		})
	}
}

// TestWidebandBaresip calls a real baresip that offers only the wideband codec (plus G.711) and
// checks the audio both ways: trayphone's recording and baresip's decode dump.
func TestWidebandBaresip(t *testing.T) {
	for _, codec := range []media.Codec{opus.Codec, g722.Codec} {
		t.Run(codec.Name, func(t *testing.T) {
			bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004,
				Codecs: []string{strings.ToLower(codec.Name), "pcmu"}})
			a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{codec, media.PCMU, media.PCMA}})
			callBaresip(t, a, bob, bob.URI(), codec.Name, 3*time.Second, minSINAD(codec))
		})
	}
}
