package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// WAV format tags (the wFormatTag field of the "fmt " chunk).
const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
)

// ReadWAV reads a PCM WAV file and returns its interleaved samples as 16-bit PCM, with its sample
// rate and channel count. It accepts what real recorders write: LIST and other chunks before or
// after "data", WAVE_FORMAT_EXTENSIBLE with a PCM sub-format, 8- and 16-bit samples, and a data
// chunk size of 0 or 0xFFFFFFFF (a recording still in progress), which means "read to the end".
func ReadWAV(path string) (samples []int16, rate, channels int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read wav: %w", err)
	}
	samples, rate, channels, err = parseWAV(data)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read wav %s: %w", path, err)
	}
	return samples, rate, channels, nil
}

// wavFormat is the part of a "fmt " chunk trayphone uses.
type wavFormat struct {
	channels, rate, bits int
}

// parseWAV decodes a whole WAV file held in memory.
func parseWAV(b []byte) ([]int16, int, int, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, 0, errors.New("not a RIFF/WAVE file")
	}
	var (
		f      wavFormat
		haveFm bool
	)
	p := 12
	for p+8 <= len(b) {
		id := string(b[p : p+4])
		size := int64(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := p + 8
		rest := int64(len(b) - body)
		switch id {
		case "fmt ":
			if size > rest {
				return nil, 0, 0, errors.New("truncated fmt chunk")
			}
			var err error
			f, err = parseWAVFormat(b[body : body+int(size)])
			if err != nil {
				return nil, 0, 0, err
			}
			haveFm = true
		case "data":
			if !haveFm {
				return nil, 0, 0, errors.New("data chunk before fmt chunk")
			}
			// 0 and 0xFFFFFFFF are what live recorders leave until they finish; a size past the
			// end of the file is a recording cut short. All three mean: to the end of the file.
			if size == 0 || size == 0xFFFFFFFF || size > rest {
				size = rest
			}
			return decodePCM(b[body:body+int(size)], f), f.rate, f.channels, nil
		}
		// Chunks are padded to an even size.
		next := int64(body) + size + size&1
		if next > int64(len(b)) {
			break
		}
		p = int(next)
	}
	if !haveFm {
		return nil, 0, 0, errors.New("no fmt chunk")
	}
	return nil, 0, 0, errors.New("no data chunk")
}

// parseWAVFormat checks a "fmt " chunk body and returns what it describes.
func parseWAVFormat(c []byte) (wavFormat, error) {
	if len(c) < 16 {
		return wavFormat{}, fmt.Errorf("fmt chunk of %d bytes, want at least 16", len(c))
	}
	tag := binary.LittleEndian.Uint16(c[0:2])
	f := wavFormat{
		channels: int(binary.LittleEndian.Uint16(c[2:4])),
		rate:     int(binary.LittleEndian.Uint32(c[4:8])),
		bits:     int(binary.LittleEndian.Uint16(c[14:16])),
	}
	if tag == wavFormatExtensible {
		// WAVE_FORMAT_EXTENSIBLE: cbSize(2) validBits(2) channelMask(4) subFormat GUID(16), whose
		// first two bytes are the real format tag.
		if len(c) < 40 {
			return wavFormat{}, errors.New("truncated WAVE_FORMAT_EXTENSIBLE fmt chunk")
		}
		tag = binary.LittleEndian.Uint16(c[24:26])
	}
	if tag != wavFormatPCM {
		return wavFormat{}, fmt.Errorf("unsupported format tag %#x (only integer PCM)", tag)
	}
	if f.channels < 1 || f.channels > 8 {
		return wavFormat{}, fmt.Errorf("unsupported channel count %d", f.channels)
	}
	if f.rate < 1000 || f.rate > 384000 {
		return wavFormat{}, fmt.Errorf("unsupported sample rate %d", f.rate)
	}
	if f.bits != 8 && f.bits != 16 {
		return wavFormat{}, fmt.Errorf("unsupported %d-bit samples (only 8 and 16)", f.bits)
	}
	return f, nil
}

// decodePCM turns 8-bit unsigned or 16-bit signed little-endian samples into int16, dropping a
// trailing partial frame.
func decodePCM(d []byte, f wavFormat) []int16 {
	bytesPerFrame := f.channels * f.bits / 8
	n := len(d) / bytesPerFrame * f.channels
	out := make([]int16, n)
	if f.bits == 8 {
		for i := range out {
			out[i] = (int16(d[i]) - 128) << 8
		}
		return out
	}
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(d[2*i:]))
	}
	return out
}

// wavHeaderSize is the size of the canonical 44-byte header WAVWriter writes.
const wavHeaderSize = 44

// WAVWriter streams 16-bit PCM to a WAV file. It rewrites the header with the current sizes about
// once a second of audio and on Close, so a process killed mid-call leaves a readable file. It is
// not safe for concurrent use.
type WAVWriter struct {
	f        *os.File
	w        *bufio.Writer
	rate     int
	channels int
	frames   int64 // sample frames written (one sample per channel each)
	unsynced int64 // sample frames written since the header was last rewritten
	buf      []byte
	err      error
	closed   bool
}

// NewWAVWriter creates (or truncates) path and writes a WAV header for 16-bit PCM at rate with
// channels interleaved channels.
func NewWAVWriter(path string, rate, channels int) (*WAVWriter, error) {
	if rate <= 0 || channels <= 0 {
		return nil, fmt.Errorf("create wav %s: invalid rate %d or channels %d", path, rate, channels)
	}
	// 0600: a recording of a call is the user's alone (issue 14). An existing file keeps its
	// mode, so it is made private too.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create wav: %w", err)
	}
	_ = f.Chmod(0o600)
	w := &WAVWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), rate: rate, channels: channels}
	if _, err := f.Write(w.header()); err != nil {
		f.Close()
		return nil, fmt.Errorf("create wav %s: %w", path, err)
	}
	return w, nil
}

// header returns the 44-byte header for the samples written so far.
func (w *WAVWriter) header() []byte {
	data := uint32(w.frames * int64(w.channels) * 2)
	h := make([]byte, wavHeaderSize)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(h[22:], uint16(w.channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(w.rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(w.rate*w.channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(w.channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	return h
}

// Write appends interleaved samples. After the first error every call returns it.
func (w *WAVWriter) Write(p []int16) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("write wav: writer is closed")
	}
	if cap(w.buf) < 2*len(p) {
		w.buf = make([]byte, 2*len(p))
	}
	b := w.buf[:2*len(p)]
	for i, s := range p {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("write wav %s: %w", w.f.Name(), err)
		return w.err
	}
	n := int64(len(p) / w.channels)
	w.frames += n
	w.unsynced += n
	if w.unsynced >= int64(w.rate) {
		return w.sync()
	}
	return nil
}

// sync flushes buffered samples and rewrites the header in place.
func (w *WAVWriter) sync() error {
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("write wav %s: %w", w.f.Name(), err)
		return w.err
	}
	if _, err := w.f.WriteAt(w.header(), 0); err != nil {
		w.err = fmt.Errorf("write wav header %s: %w", w.f.Name(), err)
		return w.err
	}
	w.unsynced = 0
	return nil
}

// Close writes the final sizes and closes the file. It is safe to call more than once.
func (w *WAVWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close wav: %w", cerr)
	}
	return err
}

// Frames returns the number of sample frames written so far.
func (w *WAVWriter) Frames() int64 { return w.frames }

var _ io.Closer = (*WAVWriter)(nil)
