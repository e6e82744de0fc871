package voicemail

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/clock"
	"trayphone/internal/phone"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// run plays the machine's prompt out and feeds it in, frame by frame, as a call would: Read gives
// what the caller hears, Write takes what the caller says (caller(i) for frame i after the prompt).
func run(t *testing.T, m *Machine, frames int, caller func(i int, p []int16)) (heard []int16, over bool, msgs chan phone.VoicemailMessage) {
	t.Helper()
	dev, overCh, err := m.Take(phone.CallInfo{ID: "1", Remote: "sip:bob@example.org", RemoteName: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := dev.Open(8000, 160)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]int16, 160)
	said := 0
	for i := 0; i < frames; i++ {
		if err := st.Read(p); err != nil {
			t.Fatal(err)
		}
		heard = append(heard, p...)
		in := make([]int16, 160)
		if s := st.(*stream); s.recording {
			caller(said, in)
			said++
		} else {
			caller(-1, in) // the caller talks over the greeting: not recorded
		}
		if err := st.Write(in); err != nil {
			t.Fatal(err)
		}
		select {
		case <-overCh:
			over = true
		default:
		}
		if over {
			break
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return heard, over, msgs
}

func newMachine(t *testing.T, greeting string, maxLen time.Duration) (*Machine, chan phone.VoicemailMessage) {
	t.Helper()
	got := make(chan phone.VoicemailMessage, 1)
	m, err := New(Config{StateDir: t.TempDir(), Greeting: greeting, MaxLength: maxLen, Log: quiet(),
		Clock:     clock.NewFake(time.Date(2026, 12, 7, 22, 30, 5, 0, time.UTC)),
		OnMessage: func(msg phone.VoicemailMessage) { got <- msg }})
	if err != nil {
		t.Fatal(err)
	}
	return m, got
}

func tone(i int, p []int16) {
	if i < 0 {
		copy(p, audiotest.Tone(440, 8000, 8000, len(p)))
		return
	}
	for j := range p {
		n := i*len(p) + j
		p[j] = int16(8000 * math.Sin(2*math.Pi*800*float64(n)/8000))
	}
}

func TestMachineRecordsUntilSilence(t *testing.T) {
	t.Parallel()
	m, got := newMachine(t, "", 0)
	// 3 s of an 800 Hz tone, then silence: the message ends 5 s into the silence.
	heard, over, _ := run(t, m, 2000, func(i int, p []int16) {
		if i < 150 {
			tone(i, p)
		} else {
			clear(p)
		}
	})
	if !over {
		t.Fatal("the message did not end after 5 s of silence")
	}
	promptLen := len(m.greeting) + 8000*3/10 + 4000
	if want := promptLen + (150+250)*160; len(heard) < want-320 || len(heard) > want+320 {
		t.Errorf("the call lasted %d samples, want about %d (prompt, 3 s of message, 5 s of silence)", len(heard), want)
	}
	// The caller heard the greeting (speech: loud), then the beep (1 kHz).
	if lvl := audiotest.RMSdBFS(heard[:len(m.greeting)]); lvl < -30 {
		t.Errorf("greeting level: got %.1f dBFS, want speech above -30", lvl)
	}
	beep := heard[promptLen-4000+200 : promptLen-200]
	if snr := audiotest.ToneSNR(beep, 8000, 1000); snr < 30 {
		t.Errorf("beep: 1 kHz SNR %.1f dB, want ≥ 30", snr)
	}
	var msg phone.VoicemailMessage
	select {
	case msg = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no message filed")
	}
	if msg.From != "sip:bob@example.org" || msg.Name != "Bob" || !msg.New || msg.ID != "20261207-223005" ||
		!msg.Start.Equal(time.Date(2026, 12, 7, 22, 30, 5, 0, time.UTC)) || math.Abs(float64(msg.Duration)-8) > 0.1 {
		t.Errorf("got message %+v, want from Bob, new, id 20261207-223005, 8 s", msg)
	}
	for _, f := range []string{msg.File, strings.TrimSuffix(msg.File, ".wav") + ".json"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	rec, rate, err := audiotest.ReadWAVMono(msg.File)
	if err != nil {
		t.Fatal(err)
	}
	c, err := audiotest.MeasureCall(rec, rate, 800)
	if err != nil {
		t.Fatal(err)
	}
	if c.SINADdB < 40 || c.Gaps > 0 || c.Clicks > 0 || c.End-c.Start < 2500*time.Millisecond || c.Start > 300*time.Millisecond {
		t.Errorf("recorded message: %v; want the whole 3 s tone from the start, clean (nothing of the greeting's time)", c)
	}
	list, err := m.List()
	if err != nil || len(list) != 1 || list[0] != msg {
		t.Fatalf("List: got %+v, %v; want the one message %+v", list, err, msg)
	}
	if n := m.NewCount(); n != 1 {
		t.Errorf("NewCount: got %d, want 1", n)
	}
	if err := m.MarkPlayed(msg.ID); err != nil {
		t.Fatal(err)
	}
	if n := m.NewCount(); n != 0 {
		t.Errorf("NewCount after playing: got %d, want 0", n)
	}
	if err := m.Delete(msg.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(msg.File); !os.IsNotExist(err) {
		t.Errorf("the message's sound is still there after Delete: %v", err)
	}
	if err := m.Delete(msg.ID); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Delete again: got %v, want ErrNoMessage", err)
	}
	if err := m.Delete("../../etc/passwd"); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Delete of a path: got %v, want ErrNoMessage", err)
	}
}

func TestMachineMaxLength(t *testing.T) {
	t.Parallel()
	m, got := newMachine(t, "", 2*time.Second)
	_, over, _ := run(t, m, 2000, tone)
	if !over {
		t.Fatal("the message did not end at its maximum length")
	}
	msg := <-got
	if math.Abs(float64(msg.Duration)-2) > 0.05 {
		t.Errorf("got a message of %.2f s, want 2 s (max_length)", float64(msg.Duration))
	}
}

func TestMachineNoMessage(t *testing.T) {
	t.Parallel()
	m, got := newMachine(t, "", 0)
	_, over, _ := run(t, m, 2000, func(int, []int16) {})
	if !over {
		t.Fatal("a silent caller did not end the message")
	}
	select {
	case msg := <-got:
		t.Errorf("a silent caller left a message: %+v", msg)
	case <-time.After(300 * time.Millisecond):
	}
	if list, _ := m.List(); len(list) != 0 {
		t.Errorf("got %d messages, want none", len(list))
	}
	entries, _ := os.ReadDir(m.dir)
	if len(entries) != 0 {
		t.Errorf("files left in the messages directory: %v", entries)
	}
}

// wavFile writes a WAV file with a custom header: tag, channels, rate, bits, then data.
func wavFile(t *testing.T, tag, channels, rate, bits int, data []byte) string {
	t.Helper()
	le := binary.LittleEndian
	h := make([]byte, 44)
	copy(h, "RIFF")
	le.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], uint16(tag))
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*channels*bits/8))
	le.PutUint16(h[32:], uint16(channels*bits/8))
	le.PutUint16(h[34:], uint16(bits))
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(len(data)))
	path := filepath.Join(t.TempDir(), "greeting.wav")
	if err := os.WriteFile(path, append(h, data...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGreetingRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		want string
	}{
		{"float", wavFile(t, 3, 1, 8000, 32, make([]byte, 32000)), "unsupported format tag 0x3 (only integer PCM)"},
		{"24-bit", wavFile(t, 1, 1, 8000, 24, make([]byte, 24000)), "unsupported 24-bit samples"},
		{"silent", wavFile(t, 1, 1, 8000, 16, make([]byte, 16000)), "is silent"},
		{"empty", wavFile(t, 1, 1, 8000, 16, nil), "shorter than a tenth of a second"},
		{"not a wav", func() string {
			p := filepath.Join(t.TempDir(), "g.wav")
			_ = os.WriteFile(p, []byte("ID3\x03 mp3 really"), 0o600)
			return p
		}(), "not a RIFF/WAVE file"},
		{"missing", "/nonexistent/greeting.wav", "no such file"},
	}
	for _, tc := range tests {
		_, err := New(Config{StateDir: t.TempDir(), Greeting: tc.path, Log: quiet()})
		if !errors.Is(err, ErrGreeting) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrGreeting mentioning %q", tc.name, err, tc.want)
		}
	}
}

// A stereo 44.1 kHz greeting is mixed down and resampled: the caller hears it at the call's rate.
func TestGreetingConverted(t *testing.T) {
	t.Parallel()
	const rate = 44100
	data := make([]byte, 0, rate*4)
	for i := 0; i < rate; i++ { // 1 s of 600 Hz in both channels
		v := int16(10000 * math.Sin(2*math.Pi*600*float64(i)/rate))
		data = binary.LittleEndian.AppendUint16(data, uint16(v))
		data = binary.LittleEndian.AppendUint16(data, uint16(v))
	}
	m, _ := newMachine(t, wavFile(t, 1, 2, rate, 16, data), 0)
	heard, _, _ := run(t, m, 40, func(int, []int16) {})
	part := heard[800:7200] // within the greeting, clear of the resampler's edges
	if snr := audiotest.ToneSNR(part, 8000, 600); snr < 30 {
		t.Errorf("converted greeting: 600 Hz SNR %.1f dB at 8 kHz, want ≥ 30", snr)
	}
	if lvl := audiotest.RMSdBFS(part); lvl < -14 || lvl > -8 {
		t.Errorf("converted greeting level: %.1f dBFS, want about -13 + 3 (one channel's level)", lvl)
	}
}
