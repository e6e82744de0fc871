package history

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"trayphone/internal/phone"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func entry(i int, dir phone.Direction, result string) phone.HistoryEntry {
	return phone.HistoryEntry{Remote: fmt.Sprintf("sip:u%d@192.0.2.1", i), Name: fmt.Sprintf("U %d", i), Direction: dir,
		Result: result, Start: t0.Add(time.Duration(i) * time.Minute), Duration: phone.Seconds(i % 7), Account: "work"}
}

// logBuf is a logger whose output the test reads.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func open(t *testing.T, dir string) (*Store, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	s, err := Open(dir, slog.New(slog.NewTextHandler(lb, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, lb
}

func TestAddListReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state") // not there yet: made 0700 on the first write
	s, _ := open(t, dir)
	s.Add(entry(1, phone.Outgoing, phone.ResultAnswered))
	s.Add(entry(2, phone.Incoming, phone.ResultMissed))
	s.Add(entry(3, phone.Incoming, phone.ResultDeclined))
	s.Close()

	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("history file mode %v, want 0600", m)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, want 0700", di.Mode().Perm())
	}
	s2, lb := open(t, dir)
	got := s2.List()
	if len(got) != 3 || got[0].Remote != "sip:u3@192.0.2.1" || got[2].Remote != "sip:u1@192.0.2.1" {
		t.Fatalf("after reopening: %+v, want u3, u2, u1", got)
	}
	if want := entry(2, phone.Incoming, phone.ResultMissed); got[1].Start != want.Start || got[1].Name != want.Name ||
		got[1].Account != "work" || got[1].Duration != want.Duration || !got[1].Unseen {
		t.Errorf("entry 2 came back as %+v, want %+v and unseen", got[1], want)
	}
	if last, ok := s2.LastOutgoing(); !ok || last.Remote != "sip:u1@192.0.2.1" {
		t.Errorf("LastOutgoing = %+v, %v; want u1", last, ok)
	}
	if strings.Contains(lb.String(), "damaged") {
		t.Errorf("a clean file was reported damaged: %s", lb)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestBound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := open(t, dir)
	for i := range Max + 25 {
		s.Add(entry(i, phone.Outgoing, phone.ResultAnswered))
	}
	s.Close()
	s2, _ := open(t, dir)
	got := s2.List()
	if len(got) != Max {
		t.Fatalf("kept %d calls, want %d", len(got), Max)
	}
	if got[0].Remote != fmt.Sprintf("sip:u%d@192.0.2.1", Max+24) || got[Max-1].Remote != "sip:u25@192.0.2.1" {
		t.Errorf("kept %s .. %s, want the newest (u%d .. u25)", got[0].Remote, got[Max-1].Remote, Max+24)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if n := bytes.Count(data, []byte("\n")); n != Max+1 {
		t.Errorf("file has %d lines, want %d (header + %d calls)", n, Max+1, Max)
	}
}

// TestWriteIsAtomic reads the file over and over while calls are added: every read must be a
// whole file (a write in place would let a reader see it cut short).
func TestWriteIsAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := open(t, dir)
	s.Add(entry(0, phone.Outgoing, phone.ResultAnswered))
	s.Close()
	s, _ = open(t, dir)
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var firstBad atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			data, err := os.ReadFile(filepath.Join(dir, FileName))
			if err != nil {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, err.Error())
				continue
			}
			reads.Add(1)
			if _, _, dropped, err := parse(data); dropped > 0 || len(data) == 0 || data[len(data)-1] != '\n' {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, fmt.Sprintf("%d bytes, %d lines dropped: %v", len(data), dropped, err))
			}
		}
	}()
	for i := 1; i <= 300; i++ {
		s.Add(entry(i, phone.Incoming, phone.ResultMissed))
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	s.Close()
	stop.Store(true)
	<-done
	t.Logf("%d reads during 300 additions", reads.Load())
	if n := bad.Load(); n > 0 {
		t.Errorf("%d reads saw a partial or missing file, first: %v", n, firstBad.Load())
	}
	s2, _ := open(t, dir)
	if n := len(s2.List()); n != 301 {
		t.Errorf("after the writes: %d calls, want 301", n)
	}
}

// TestDamagedFile: a file with a garbage line, an entry that is not one, and a last line cut
// short keeps its good calls, says what it dropped, keeps the damaged file, and is rewritten clean.
func TestDamagedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, _ := encode([]phone.HistoryEntry{entry(1, phone.Outgoing, phone.ResultBusy), entry(2, phone.Incoming, phone.ResultMissed)}, t0)
	damaged := string(good) + "this is not json\n" + `{"remote":"sip:x@y","direction":"incoming","result":"exploded","start":"2026-12-07T09:00:00Z"}` + "\n" +
		`{"remote":"sip:cut@192.0.2.1","name":"","direction":"outgoing","res`
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}
	s, lb := open(t, dir)
	got := s.List()
	if len(got) != 2 || got[0].Remote != "sip:u2@192.0.2.1" || got[1].Result != phone.ResultBusy {
		t.Fatalf("kept %+v, want u2 (missed) and u1 (busy)", got)
	}
	log := lb.String()
	for _, want := range []string{"call history " + path + " is damaged", "kept 2 calls", "dropped 3 unreadable lines", "line 4:", path + ".corrupt"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q does not say %q", log, want)
		}
	}
	if kept, err := os.ReadFile(path + ".corrupt"); err != nil || string(kept) != damaged {
		t.Errorf("the damaged file was not kept as is: %v", err)
	}
	s.Add(entry(3, phone.Outgoing, phone.ResultAnswered))
	s.Close()
	data, _ := os.ReadFile(path)
	if _, _, dropped, err := parse(data); dropped != 0 {
		t.Errorf("the rewritten file still drops %d lines: %v", dropped, err)
	}
	s2, lb2 := open(t, dir)
	if n := len(s2.List()); n != 3 {
		t.Errorf("after the rewrite: %d calls, want 3", n)
	}
	if strings.Contains(lb2.String(), "damaged") {
		t.Errorf("the rewritten file was reported damaged: %s", lb2)
	}
}

func TestMarkSeen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := open(t, dir)
	s.Add(entry(1, phone.Incoming, phone.ResultMissed))
	s.Add(entry(2, phone.Incoming, phone.ResultAnswered))
	s.Add(entry(3, phone.Incoming, phone.ResultMissed))
	s.MarkSeen(t0.Add(2 * time.Minute))
	unseen := func(s *Store) []bool {
		var out []bool
		for _, e := range s.List() {
			out = append(out, e.Unseen)
		}
		return out
	}
	if got := fmt.Sprint(unseen(s)); got != "[true false false]" {
		t.Errorf("unseen newest first: %s, want [true false false] (only u3, missed after the mark)", got)
	}
	s.Close()
	s2, _ := open(t, dir)
	if got := fmt.Sprint(unseen(s2)); got != "[true false false]" {
		t.Errorf("after reopening: %s, want the mark kept", got)
	}
}
