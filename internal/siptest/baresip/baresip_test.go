package baresip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"trayphone/internal/testenv"
)

func TestNetstring(t *testing.T) {
	var buf []byte
	for _, s := range []string{`{"a":1}`, "", "x,y:z"} {
		buf = appendNetstring(buf, []byte(s))
	}
	if got, want := string(buf), `7:{"a":1},0:,5:x,y:z,`; got != want {
		t.Fatalf("framed %q, want %q", got, want)
	}
	r := bufio.NewReader(bytes.NewReader(buf))
	for _, want := range []string{`{"a":1}`, "", "x,y:z"} {
		got, err := readNetstring(r)
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readNetstring(r); err == nil {
		t.Fatal("read past the end without error")
	}
	for _, bad := range []string{"3:abc;", "x:abc,", ":,", "5:ab", "99999999:"} {
		if _, err := readNetstring(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readNetstring(%q) succeeded", bad)
		}
	}
}

func TestToneWAV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.wav")
	if err := writeToneWAV(p, 1000, 8000, 1, time.Second); err != nil {
		t.Fatal(err)
	}
	s, rate := readSamples(t, p)
	if rate != 8000 || len(s) != 8000 {
		t.Fatalf("rate %d, %d samples", rate, len(s))
	}
	if r := rms(s); r < 0.3 || r > 0.4 {
		t.Fatalf("rms %.3f, want ~0.354 (-6 dBFS sine)", r)
	}
	if g, o := goertzel(s, rate, 1000), goertzel(s, rate, 600); g < 1000*o {
		t.Fatalf("1000 Hz power %.3g not far above 600 Hz power %.3g", g, o)
	}
}

// TestDirectCall: alice dials bob's URI directly, bob auto-answers, 3 s of audio, alice hangs up;
// each side's recording of what it received carries the other side's tone.
func TestDirectCall(t *testing.T) {
	testenv.RequireProgram(t, "sox")
	const aliceHz, bobHz = 1000, 600
	alice := Start(t, Options{User: "alice", ToneHz: aliceHz, AnswerMode: "manual"})
	bob := Start(t, Options{User: "bob", ToneHz: bobHz})

	t0 := time.Now()
	if err := alice.Dial(bob.URI()); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Baresip{alice, bob} {
		if _, err := b.WaitEvent(CallEstablished, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("call set up in %v", time.Since(t0).Round(time.Millisecond))
	// Events before CALL_ESTABLISHED were queued, not dropped.
	ring, err := alice.WaitEvent(CallRinging, 0)
	if err != nil {
		t.Fatalf("CALL_RINGING not kept in the queue: %v", err)
	}
	if ring.PeerURI == "" || !strings.Contains(ring.PeerURI, bob.URI()) {
		t.Errorf("CALL_RINGING peeruri %q, want %s", ring.PeerURI, bob.URI())
	}

	time.Sleep(3 * time.Second)
	if err := alice.Hangup(); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Baresip{alice, bob} {
		ev, err := b.WaitEvent(CallClosed, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: CALL_CLOSED %q", b.opts.User, ev.Param)
	}

	for _, c := range []struct {
		who     *Baresip
		path    string
		wantHz  float64
		otherHz float64
	}{
		{alice, alice.RecordedReceived(), bobHz, aliceHz},
		{bob, bob.RecordedReceived(), aliceHz, bobHz},
		{alice, alice.RecordedSent(), aliceHz, bobHz},
		{bob, bob.RecordedSent(), bobHz, aliceHz},
	} {
		if c.path == "" {
			t.Fatalf("%s: no recording found in %s", c.who.opts.User, c.who.Dir())
		}
		if !regexp.MustCompile(`/rec/dump-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-(dec|enc)\.wav$`).MatchString(c.path) {
			t.Errorf("unexpected recording name %s", c.path)
		}
		st := soxStat(t, c.path)
		s, rate := readSamples(t, c.path)
		dur := float64(len(s)) / float64(rate)
		db := 20 * math.Log10(st["RMS     amplitude"])
		rough := st["Rough   frequency"]
		snr := 10 * math.Log10(goertzel(s, rate, c.wantHz)/goertzel(s, rate, c.otherHz))
		t.Logf("%s %s: %.2f s at %d Hz, RMS %.1f dBFS, sox rough frequency %.0f Hz, %v Hz over %v Hz: %.1f dB",
			c.who.opts.User, filepath.Base(c.path), dur, rate, db, rough, c.wantHz, c.otherHz, snr)
		if dur < 2.5 {
			t.Errorf("%s: only %.2f s recorded", c.path, dur)
		}
		if db < -30 {
			t.Errorf("%s: RMS %.1f dBFS, want > -30 (real signal)", c.path, db)
		}
		if math.Abs(rough-c.wantHz) > 0.1*c.wantHz {
			t.Errorf("%s: rough frequency %.0f Hz, want ~%v", c.path, rough, c.wantHz)
		}
		if snr < 30 {
			t.Errorf("%s: %v Hz only %.1f dB above %v Hz", c.path, c.wantHz, snr, c.otherHz)
		}
	}
}

// TestManualAnswer: bob answers by hand on CALL_INCOMING and hangs up himself.
func TestManualAnswer(t *testing.T) {
	alice := Start(t, Options{User: "alice"})
	bob := Start(t, Options{User: "bob", AnswerMode: "manual", Codecs: []string{"pcma"}})
	if err := alice.Dial(bob.URI()); err != nil {
		t.Fatal(err)
	}
	in, err := bob.WaitEvent(CallIncoming, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(in.PeerURI, alice.URI()) {
		t.Errorf("CALL_INCOMING peeruri %q, want %s", in.PeerURI, alice.URI())
	}
	if _, err := alice.WaitEvent(CallRinging, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := bob.Accept(); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Baresip{alice, bob} {
		if _, err := b.WaitEvent(CallEstablished, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(bob.Log(), "PCMA") {
		t.Errorf("bob's log does not mention PCMA")
	}
	if err := bob.Hangup(); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Baresip{alice, bob} {
		if _, err := b.WaitEvent(CallClosed, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.Command("nosuchcommand", ""); err == nil {
		t.Errorf("unknown command succeeded")
	}
	if _, err := alice.WaitEvent(CallIncoming, 100*time.Millisecond); err == nil {
		t.Errorf("alice saw CALL_INCOMING")
	}
}

// soxStat runs `sox --ignore-length FILE -n stat` and returns its "name: value" lines.
func soxStat(t *testing.T, path string) map[string]float64 {
	t.Helper()
	out, err := exec.Command("sox", "--ignore-length", path, "-n", "stat").CombinedOutput()
	if err != nil {
		t.Fatalf("sox stat %s: %v\n%s", path, err, out)
	}
	st := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			st[strings.TrimSpace(k)] = f
		}
	}
	return st
}

// readSamples reads a 16-bit PCM WAV (first channel) written by baresip or writeToneWAV. It walks
// the chunks and ignores the data chunk's size, as baresip's dumps may not have it filled in.
func readSamples(t *testing.T, path string) ([]float64, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	rate, channels, bits := 0, 0, 0
	for off := 12; off+8 <= len(data); {
		id, size := string(data[off:off+4]), int(le.Uint32(data[off+4:]))
		body := data[off+8:]
		switch id {
		case "fmt ":
			channels, rate, bits = int(le.Uint16(body[2:])), int(le.Uint32(body[4:])), int(le.Uint16(body[14:]))
		case "data":
			if bits != 16 || channels < 1 {
				t.Fatalf("%s: %d-bit %d-channel audio, want 16-bit PCM", path, bits, channels)
			}
			var s []float64
			for i := 0; i+2*channels <= len(body); i += 2 * channels {
				s = append(s, float64(int16(le.Uint16(body[i:])))/32768)
			}
			return s, rate
		}
		off += 8 + size + size%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil, 0
}

func rms(s []float64) float64 {
	var sum float64
	for _, v := range s {
		sum += v * v
	}
	return math.Sqrt(sum / float64(len(s)))
}

// goertzel returns the power of s at hz.
func goertzel(s []float64, rate int, hz float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*hz/float64(rate))
	var s1, s2 float64
	for _, v := range s {
		s1, s2 = v+coeff*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// TestWidebandCodecs: Opus (48 kHz stereo source) and G.722 (16 kHz) carry each side's tone.
func TestWidebandCodecs(t *testing.T) {
	for _, codec := range []string{"opus", "g722"} {
		t.Run(codec, func(t *testing.T) {
			alice := Start(t, Options{User: "alice", Codecs: []string{codec}, ToneHz: 1000})
			bob := Start(t, Options{User: "bob", Codecs: []string{codec}, ToneHz: 600})
			if err := alice.Dial(bob.URI()); err != nil {
				t.Fatal(err)
			}
			for _, b := range []*Baresip{alice, bob} {
				if _, err := b.WaitEvent(CallEstablished, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(1500 * time.Millisecond)
			if err := alice.Hangup(); err != nil {
				t.Fatal(err)
			}
			for _, b := range []*Baresip{alice, bob} {
				if _, err := b.WaitEvent(CallClosed, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			wantRate := map[string]int{"opus": 48000, "g722": 16000}[codec]
			for _, c := range []struct {
				path          string
				wantHz, other float64
			}{{alice.RecordedReceived(), 600, 1000}, {bob.RecordedReceived(), 1000, 600}} {
				s, rate := readSamples(t, c.path)
				db := 20 * math.Log10(rms(s))
				snr := 10 * math.Log10(goertzel(s, rate, c.wantHz)/goertzel(s, rate, c.other))
				t.Logf("%s: %d Hz, %.2f s, RMS %.1f dBFS, %v Hz over %v Hz: %.1f dB", filepath.Base(c.path), rate, float64(len(s))/float64(rate), db, c.wantHz, c.other, snr)
				if rate != wantRate || db < -30 || snr < 30 {
					t.Errorf("%s: rate %d (want %d), RMS %.1f dBFS, tone ratio %.1f dB", c.path, rate, wantRate, db, snr)
				}
			}
		})
	}
}
