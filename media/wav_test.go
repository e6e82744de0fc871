package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// wavBytes builds a WAV file from chunks for tests.
func wavBytes(chunks ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	size := 4
	for _, c := range chunks {
		size += len(c)
	}
	binary.Write(&b, binary.LittleEndian, uint32(size))
	b.WriteString("WAVE")
	for _, c := range chunks {
		b.Write(c)
	}
	return b.Bytes()
}

func chunk(id string, body []byte, size uint32) []byte {
	var b bytes.Buffer
	b.WriteString(id)
	binary.Write(&b, binary.LittleEndian, size)
	b.Write(body)
	if len(body)%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func fmtBody(tag uint16, channels, rate, bits int) []byte {
	var b bytes.Buffer
	for _, v := range []any{tag, uint16(channels), uint32(rate), uint32(rate * channels * bits / 8), uint16(channels * bits / 8), uint16(bits)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func extensibleBody(channels, rate, bits int) []byte {
	b := fmtBody(wavFormatExtensible, channels, rate, bits)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)           // cbSize
	binary.LittleEndian.PutUint16(ext[2:], uint16(bits)) // valid bits
	binary.LittleEndian.PutUint32(ext[4:], 3)            // FL|FR
	// KSDATAFORMAT_SUBTYPE_PCM: 00000001-0000-0010-8000-00aa00389b71
	copy(ext[8:], []byte{1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71})
	return append(b, ext...)
}

func pcm16(s ...int16) []byte {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func TestReadWAVVariants(t *testing.T) {
	t.Parallel()
	data := pcm16(1, -2, 300, -400)
	tests := []struct {
		name     string
		file     []byte
		want     []int16
		rate     int
		channels int
	}{
		{"plain", wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 16), 16), chunk("data", data, 8)), []int16{1, -2, 300, -400}, 8000, 1},
		{"LIST before data", wavBytes(chunk("fmt ", fmtBody(1, 2, 48000, 16), 16), chunk("LIST", []byte("INFOISFT\x03\x00\x00\x00sox"), 15), chunk("data", data, 8)), []int16{1, -2, 300, -400}, 48000, 2},
		{"extensible", wavBytes(chunk("fmt ", extensibleBody(2, 44100, 16), 40), chunk("data", data, 8)), []int16{1, -2, 300, -400}, 44100, 2},
		{"data size 0 (recording)", wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 16), 16), chunk("data", data, 0)), []int16{1, -2, 300, -400}, 8000, 1},
		{"data size 0xFFFFFFFF", wavBytes(chunk("fmt ", fmtBody(1, 1, 16000, 16), 16), chunk("data", data, 0xFFFFFFFF)), []int16{1, -2, 300, -400}, 16000, 1},
		{"data size past end", wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 16), 16), chunk("data", data, 1000)), []int16{1, -2, 300, -400}, 8000, 1},
		{"odd trailing byte", wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 16), 16), chunk("data", append(pcm16(7, 8), 9), 5)), []int16{7, 8}, 8000, 1},
		{"8-bit", wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 8), 16), chunk("data", []byte{128, 255, 0, 129}, 4)), []int16{0, 127 << 8, -128 << 8, 1 << 8}, 8000, 1},
		{"fmt with cbSize", wavBytes(chunk("fmt ", append(fmtBody(1, 1, 8000, 16), 0, 0), 18), chunk("fact", []byte{4, 0, 0, 0}, 4), chunk("data", data, 8)), []int16{1, -2, 300, -400}, 8000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.wav")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			got, rate, channels, err := ReadWAV(path)
			if err != nil {
				t.Fatalf("ReadWAV: %v", err)
			}
			if !slices.Equal(got, tt.want) || rate != tt.rate || channels != tt.channels {
				t.Errorf("got %v %d Hz %d ch, want %v %d Hz %d ch", got, rate, channels, tt.want, tt.rate, tt.channels)
			}
		})
	}
}

func TestReadWAVRejects(t *testing.T) {
	t.Parallel()
	tests := map[string][]byte{
		"empty":      nil,
		"not riff":   []byte("RIFX\x00\x00\x00\x00WAVE"),
		"float":      wavBytes(chunk("fmt ", fmtBody(3, 1, 8000, 32), 16), chunk("data", pcm16(1, 2), 4)),
		"24-bit":     wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 24), 16), chunk("data", pcm16(1, 2, 3), 6)),
		"no data":    wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 16), 16)),
		"data first": wavBytes(chunk("data", pcm16(1, 2), 4), chunk("fmt ", fmtBody(1, 1, 8000, 16), 16)),
		"zero chans": wavBytes(chunk("fmt ", fmtBody(1, 0, 8000, 16), 16), chunk("data", pcm16(1, 2), 4)),
	}
	for name, b := range tests {
		if _, _, _, err := parseWAV(b); err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
	}
	if _, _, _, err := ReadWAV(filepath.Join(t.TempDir(), "missing.wav")); err == nil {
		t.Error("missing file: got no error, want one")
	}
}

func TestWAVWriterRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.wav")
	w, err := NewWAVWriter(path, 8000, 2)
	if err != nil {
		t.Fatal(err)
	}
	var want []int16
	for i := range 100 {
		frame := make([]int16, 320)
		for j := range frame {
			frame[j] = int16(i*1000 + j)
		}
		want = append(want, frame...)
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	got, rate, ch, err := ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 || ch != 2 || !slices.Equal(got, want) {
		t.Errorf("got %d samples %d Hz %d ch, want %d samples 8000 Hz 2 ch", len(got), rate, ch, len(want))
	}
	b, _ := os.ReadFile(path)
	if size := binary.LittleEndian.Uint32(b[40:]); size != uint32(2*len(want)) {
		t.Errorf("got data size %d, want %d", size, 2*len(want))
	}
}

// A writer that is never closed (a killed process) still leaves a header that covers all but
// the last second.
func TestWAVWriterPeriodicHeader(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "live.wav")
	w, err := NewWAVWriter(path, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	frame := make([]int16, 160)
	for range 130 { // 2.6 s
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	size := binary.LittleEndian.Uint32(b[40:])
	riff := binary.LittleEndian.Uint32(b[4:])
	if size < 2*16000 || int(size) > len(b)-44 || riff != size+36 {
		t.Errorf("got data size %d, RIFF size %d with %d bytes on disk, want >= 32000 and consistent", size, riff, len(b))
	}
	if _, _, _, err := ReadWAV(path); err != nil {
		t.Errorf("unclosed file is unreadable: %v", err)
	}
}

func FuzzReadWAV(f *testing.F) {
	f.Add(wavBytes(chunk("fmt ", fmtBody(1, 1, 8000, 16), 16), chunk("data", pcm16(1, 2, 3), 6)))
	f.Add(wavBytes(chunk("fmt ", extensibleBody(2, 48000, 16), 40), chunk("LIST", []byte("INFO"), 4), chunk("data", pcm16(1, 2), 0xFFFFFFFF)))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, rate, channels, err := parseWAV(b)
		if err != nil {
			return
		}
		// A sample takes at least one byte of the file (8-bit PCM is read too, since play).
		if channels < 1 || rate <= 0 || len(pcm)%channels != 0 || len(pcm) > len(b) {
			t.Fatalf("got %d samples, %d Hz, %d channels from %d bytes", len(pcm), rate, channels, len(b))
		}
	})
}

// TestWAVWriterPrivate: a recording is created 0600, also over an existing readable file.
func TestWAVWriterPrivate(t *testing.T) {
	dir := t.TempDir()
	for _, pre := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprintf("rec-%v.wav", pre))
		if pre {
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		w, err := NewWAVWriter(path, 8000, 1)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("recording (existing file %v) has mode %o, want 600", pre, m)
		}
	}
}
