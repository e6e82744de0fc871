package media

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// File is a Device backed by WAV files: its input plays a WAV file (any rate and channel count,
// converted to the stream's mono rate) and then silence; its output records exactly what is
// written, at the stream's rate. Either side may be absent: no input reads silence, no output
// discards. Each Open starts the input from its beginning and rewrites the output file.
type File struct {
	in, out string
}

// NewFile returns a file device reading inPath and recording to outPath; an empty path leaves
// that side silent (input) or discarding (output). inPath must be a readable WAV file and
// outPath's directory must exist.
func NewFile(inPath, outPath string) (*File, error) {
	if inPath != "" {
		if _, _, _, err := ReadWAV(inPath); err != nil {
			return nil, fmt.Errorf("audio input file %s: %w", inPath, err)
		}
	}
	if outPath != "" {
		if err := checkOutputDir(outPath); err != nil {
			return nil, err
		}
	}
	return &File{in: inPath, out: outPath}, nil
}

// checkOutputDir reports whether a WAV file could be created at path.
func checkOutputDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("audio output file %s: directory %s: %w", path, dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("audio output file %s: %s is not a directory", path, dir)
	}
	return nil
}

// Name describes both sides, e.g. "file:in.wav > file:out.wav".
func (f *File) Name() string {
	in, out := "null", "null"
	if f.in != "" {
		in = "file:" + f.in
	}
	if f.out != "" {
		out = "file:" + f.out
	}
	return in + " > " + out
}

// Open loads the input file and converts it to rate, and creates the output file.
func (f *File) Open(rate, frameSamples int) (Stream, error) {
	if err := checkOpen(f.Name(), rate, frameSamples); err != nil {
		return nil, err
	}
	s := &fileStream{name: f.Name()}
	if f.in != "" {
		pcm, err := loadMono(f.in, rate)
		if err != nil {
			return nil, fmt.Errorf("open audio input: %w", err)
		}
		s.in = pcm
	}
	if f.out != "" {
		w, err := NewWAVWriter(f.out, rate, 1)
		if err != nil {
			return nil, fmt.Errorf("open audio output: %w", err)
		}
		s.out = w
	}
	return s, nil
}

// loadMono reads a WAV file as mono PCM at rate.
func loadMono(path string, rate int) ([]int16, error) {
	pcm, fileRate, channels, err := ReadWAV(path)
	if err != nil {
		return nil, err
	}
	if channels > 1 {
		pcm = Downmix(make([]int16, 0, len(pcm)/channels), pcm, channels)
	}
	if fileRate == rate {
		return pcm, nil
	}
	r, err := NewResampler(fileRate, rate)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := r.Process(make([]int16, 0, r.OutLen(len(pcm))+r.taps*2), pcm)
	// Push the filter's delay out so the end of the file is not cut off.
	return r.Process(out, make([]int16, r.taps+1)), nil
}

type fileStream struct {
	name string

	inMu  sync.Mutex
	in    []int16
	inPos int

	outMu  sync.Mutex
	out    *WAVWriter
	closed bool
}

// Read returns the next frame of the input file, or silence past its end.
func (s *fileStream) Read(p []int16) error {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	n := copy(p, s.in[min(s.inPos, len(s.in)):])
	s.inPos += n
	clear(p[n:])
	return nil
}

// Write appends p to the output file.
func (s *fileStream) Write(p []int16) error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.closed {
		return errClosed(s.name)
	}
	if s.out == nil {
		return nil
	}
	return s.out.Write(p)
}

// Close finishes the output file.
func (s *fileStream) Close() error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.out == nil {
		return nil
	}
	return s.out.Close()
}
