// Package history keeps the call history in the state directory, across restarts: every call,
// incoming and outgoing, whatever became of it, bounded to the last Max calls. One goroutine
// writes the file (atomically: a 0600 temporary file renamed over it), so whoever adds a call
// never waits on the disk.
//
// The file, history.jsonl, is JSON lines: a header line {"trayphone_history":1,"seen":TIME}, then
// one phone.HistoryEntry per line, oldest first. A damaged file (cut short, edited, a disk error)
// costs only its bad lines: the rest is kept, what was dropped is said, and the damaged file is
// kept beside the new one as history.jsonl.corrupt.
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"trayphone/internal/phone"
)

// FileName is the history's file in the state directory.
const FileName = "history.jsonl"

// Max is how many calls the history keeps; older ones are dropped.
const Max = 500

// header is the file's first line.
type header struct {
	Version int       `json:"trayphone_history"`
	Seen    time.Time `json:"seen,omitzero"`
}

// Store is the call history. Its methods are safe for concurrent use and never block on the disk.
type Store struct {
	path string // "" keeps the history in memory only
	log  *slog.Logger

	mu      sync.Mutex
	entries []phone.HistoryEntry // oldest first
	seen    time.Time            // missed calls that started before this were seen
	dirty   bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Open loads the history from dir (none yet: empty) and starts its writer; Close stops it. A
// damaged file is not an error: its readable calls are kept and the loss is logged. The error is
// for a file that cannot be read at all (permissions); the store then keeps calls in memory only
// and never overwrites that file.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: filepath.Join(dir, FileName), log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	err := s.load()
	if err != nil {
		s.path = ""
	}
	go s.writer()
	return s, err
}

// load reads the file into the store; a damaged one is rewritten clean by the writer.
func (s *Store) load() error {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read call history: %w", err)
	}
	entries, seen, dropped, firstErr := parse(data)
	s.mu.Lock()
	s.entries, s.seen = entries, seen
	s.mu.Unlock()
	if dropped > 0 {
		keep := s.path + ".corrupt"
		if werr := os.WriteFile(keep, data, 0o600); werr != nil {
			keep = "(could not keep a copy: " + werr.Error() + ")"
		}
		s.log.Warn(fmt.Sprintf("call history %s is damaged: kept %d calls, dropped %d unreadable lines (%v); the damaged file is kept as %s",
			s.path, len(entries), dropped, firstErr, keep))
		s.mu.Lock()
		s.dirty = true // rewrite it clean
		s.mu.Unlock()
		s.signal()
	}
	return nil
}

// parse reads the file's lines: the entries it could read (oldest first, at most Max), the seen
// time, how many lines it dropped and why the first one was.
func parse(data []byte) (entries []phone.HistoryEntry, seen time.Time, dropped int, firstErr error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	drop := func(line int, err error) {
		dropped++
		if firstErr == nil {
			firstErr = fmt.Errorf("line %d: %v", line, err)
		}
	}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if n == 1 && bytes.Contains(line, []byte(`"trayphone_history"`)) {
			var h header
			if err := json.Unmarshal(line, &h); err != nil {
				drop(n, err)
			} else {
				seen = h.Seen
			}
			continue
		}
		var e phone.HistoryEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			drop(n, err)
			continue
		}
		if err := check(e); err != nil {
			drop(n, err)
			continue
		}
		e.Unseen = false
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		drop(0, err)
	}
	if len(entries) > Max {
		entries = entries[len(entries)-Max:]
	}
	return entries, seen, dropped, firstErr
}

// check says what is wrong with an entry read from the file.
func check(e phone.HistoryEntry) error {
	switch {
	case e.Remote == "":
		return errors.New("no remote")
	case e.Direction != phone.Incoming && e.Direction != phone.Outgoing:
		return errors.New("no direction")
	case e.Start.IsZero():
		return errors.New("no start time")
	case e.Duration < 0:
		return errors.New("negative duration")
	}
	switch e.Result {
	case phone.ResultAnswered, phone.ResultMissed, phone.ResultDeclined, phone.ResultBusy, phone.ResultFailed, phone.ResultCancelled, phone.ResultForwarded:
		return nil
	}
	return fmt.Errorf("unknown result %q", e.Result)
}

// Add files one ended call.
func (s *Store) Add(e phone.HistoryEntry) {
	e.Unseen = false
	s.mu.Lock()
	s.entries = append(s.entries, e)
	if len(s.entries) > Max {
		s.entries = slices.Delete(s.entries, 0, len(s.entries)-Max)
	}
	s.dirty = true
	s.mu.Unlock()
	s.signal()
}

// List returns the history, newest first, with unseen missed calls marked.
func (s *Store) List() []phone.HistoryEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]phone.HistoryEntry, len(s.entries))
	for i, e := range s.entries {
		e.Unseen = e.Result == phone.ResultMissed && e.Direction == phone.Incoming && e.Start.After(s.seen)
		out[len(out)-1-i] = e
	}
	return out
}

// LastOutgoing returns the latest outgoing call, if there is one.
func (s *Store) LastOutgoing() (phone.HistoryEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.entries) - 1; i >= 0; i-- {
		if s.entries[i].Direction == phone.Outgoing {
			return s.entries[i], true
		}
	}
	return phone.HistoryEntry{}, false
}

// MarkSeen marks the missed calls that started up to t as seen.
func (s *Store) MarkSeen(t time.Time) {
	s.mu.Lock()
	if !t.After(s.seen) {
		s.mu.Unlock()
		return
	}
	s.seen = t
	s.dirty = true
	s.mu.Unlock()
	s.signal()
}

func (s *Store) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Close writes what is not written yet and stops the writer. Safe to call more than once.
func (s *Store) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// writer writes the file whenever the history changed. It returns when Close is called, after
// a last write.
func (s *Store) writer() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
			s.flush()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

// flush writes the history if it changed since the last write.
func (s *Store) flush() {
	s.mu.Lock()
	if !s.dirty || s.path == "" {
		s.mu.Unlock()
		return
	}
	s.dirty = false
	data, err := encode(s.entries, s.seen)
	s.mu.Unlock()
	if err == nil {
		err = writeAtomic(s.path, data)
	}
	if err != nil {
		s.log.Warn("could not save the call history", "path", s.path, "err", err)
	}
}

func encode(entries []phone.HistoryEntry, seen time.Time) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(header{Version: 1, Seen: seen}); err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// writeAtomic replaces path with data: a 0600 temporary file in the same directory, synced, then
// renamed over it, so a crash leaves the old file or the new one, never half of one.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
