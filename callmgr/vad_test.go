//go:build cgo

// Opus and G.722 are cgo leaf packages (media/codec/...): this file tests them, so it builds
// with cgo only.

package callmgr

import (
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/media"
	"trayphone/media/codec/opus"
)

// callMedia returns what call id negotiated: the telephone-event payload types (sent and
// received-only) and the comfort-noise payload type.
func callMedia(t *testing.T, c *core, id string) (te, teRecv, cn uint8, sent uint64) {
	t.Helper()
	if err := c.mgr.do(ctx(t), func() error {
		call := c.mgr.calls[id]
		if call == nil {
			t.Fatalf("%s: no call %s", c.name, id)
		}
		te, teRecv, cn = call.tePT, call.teRecvPT, call.cnPT
		if call.sess != nil {
			sent = call.sess.Stats().PacketsSent
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return
}

// TestComfortNoiseNegotiated: two trayphones on G.711 agree on CN/8000 (RFC 3389); on Opus
// they do not (its DTX needs none).
func TestComfortNoiseNegotiated(t *testing.T) {
	for _, tc := range []struct {
		codec media.Codec
		cn    uint8
	}{{media.PCMU, 13}, {opus.Codec, 0}} {
		t.Run(tc.codec.Name, func(t *testing.T) {
			checkGoroutines(t)
			a := startCore(t, "alice", coreOpts{codecs: []media.Codec{tc.codec}})
			b := startCore(t, "bob", coreOpts{codecs: []media.Codec{tc.codec}})
			ca, cb := established(t, a, b)
			_, _, cnA, _ := callMedia(t, a, ca.ID)
			_, _, cnB, _ := callMedia(t, b, cb.ID)
			if cnA != tc.cn || cnB != tc.cn {
				t.Errorf("comfort-noise payload types %d/%d, want %d", cnA, cnB, tc.cn)
			}
			if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
				t.Fatal(err)
			}
			b.waitState(5*time.Second, phone.CallEnded)
		})
	}
}

// TestComfortNoiseBaresip: baresip has no comfort-noise module, so it answers our CN offer
// without CN; the call then sends every frame and the audio goes both ways.
func TestComfortNoiseBaresip(t *testing.T) {
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004, Codecs: []string{"pcmu"}})
	a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{media.PCMU}})
	ci, err := a.mgr.Call(ctx(t), bob.URI(), "")
	if err != nil {
		t.Fatal(err)
	}
	a.waitState(10*time.Second, phone.CallActive)
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, _, sent0 := callMedia(t, a, ci.ID)
	time.Sleep(2 * time.Second)
	_, _, cn, sent := callMedia(t, a, ci.ID)
	if cn != 0 {
		t.Errorf("comfort noise payload type %d with baresip, want none", cn)
	}
	if want := uint64(time.Since(start) / (20 * time.Millisecond) * 9 / 10); sent-sent0 < want {
		t.Errorf("sent %d packets in %v, want at least %d (every frame)", sent-sent0, time.Since(start), want)
	}
	if err := a.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.stop()
	checkTone(t, a.out, 1004, 20)
	checkTone(t, bob.RecordedReceived(), 604, 20)
}

// TestDTMFOpusLoopback: two trayphones on Opus agree on telephone-event/48000 (RFC 4733 §2.1:
// the codec's clock) and carry DTMF both ways in RTP.
func TestDTMFOpusLoopback(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{codecs: []media.Codec{opus.Codec, media.PCMU}})
	b := startCore(t, "bob", coreOpts{codecs: []media.Codec{opus.Codec, media.PCMU}})
	ca, cb := established(t, a, b)
	if ca.Codec != "opus" {
		t.Fatalf("codec %s, want opus", ca.Codec)
	}
	for _, c := range []struct {
		core *core
		id   string
	}{{a, ca.ID}, {b, cb.ID}} {
		// A negotiated telephone-event is what makes SendDTMF use RTP rather than SIP INFO.
		if te, _, _, _ := callMedia(t, c.core, c.id); te != 100 {
			t.Errorf("%s: telephone-event payload type %d, want 100 (telephone-event/48000)", c.core.name, te)
		}
	}
	if err := a.mgr.SendDTMF(ctx(t), "", "159#"); err != nil {
		t.Fatal(err)
	}
	if got := b.waitDigits(4, 5*time.Second); got != "159#" {
		t.Errorf("alice to bob: got %q, want %q", got, "159#")
	}
	if err := b.mgr.SendDTMF(ctx(t), "", "*0D"); err != nil {
		t.Fatal(err)
	}
	if got := a.waitDigits(3, 5*time.Second); got != "*0D" {
		t.Errorf("bob to alice: got %q, want %q", got, "*0D")
	}
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
}

// TestDTMFOpusBaresip sends DTMF to a real baresip on an Opus call, which must recognise it
// (CALL_DTMF_START), and has baresip send DTMF to us.
func TestDTMFOpusBaresip(t *testing.T) {
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004, Codecs: []string{"opus"}})
	a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{opus.Codec, media.PCMU}})
	ci, err := a.mgr.Call(ctx(t), bob.URI(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.waitState(10*time.Second, phone.CallActive); got.Codec != "opus" {
		t.Fatalf("codec %s, want opus", got.Codec)
	}
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	te, teRecv, _, _ := callMedia(t, a, ci.ID)
	t.Logf("baresip's answer: telephone-event %d (sent), %d (received only)", te, teRecv)
	dtmfWithBaresip(t, a, bob, ci.ID)
	if err := a.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
}
