package voicemail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"trayphone/internal/phone"
)

// idRe is what a message ID looks like (Machine.start makes them): it also keeps a path out.
var idRe = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}(-[0-9]+)?$`)

// ErrNoMessage is returned for an ID that names no message.
var ErrNoMessage = errors.New("no such message")

// writeMeta writes msg's JSON file atomically (0600). m.mu is held.
func (m *Machine) writeMeta(msg phone.VoicemailMessage) error {
	data, err := json.MarshalIndent(msg, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(m.dir, ".msg-*.tmp") // 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(m.dir, msg.ID+".json"))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// List returns the messages, newest first. A message whose details cannot be read is left out and
// logged; its files stay.
func (m *Machine) List() ([]phone.VoicemailMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list()
}

func (m *Machine) list() ([]phone.VoicemailMessage, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	out := []phone.VoicemailMessage{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !idRe.MatchString(id) {
			continue
		}
		msg, err := m.read(id)
		if err != nil {
			m.log.Warn("a message's details cannot be read; it is left out", "id", id, "err", err)
			continue
		}
		out = append(out, msg)
	}
	slices.SortFunc(out, func(a, b phone.VoicemailMessage) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

func (m *Machine) read(id string) (phone.VoicemailMessage, error) {
	var msg phone.VoicemailMessage
	data, err := os.ReadFile(filepath.Join(m.dir, id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return msg, fmt.Errorf("%w %q (see trayphone messages)", ErrNoMessage, id)
	}
	if err != nil {
		return msg, err
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return msg, fmt.Errorf("message %s: %w", id, err)
	}
	// The file is always the one beside the details, whatever they say.
	msg.ID, msg.File = id, filepath.Join(m.dir, id+".wav")
	return msg, nil
}

// Get returns message id.
func (m *Machine) Get(id string) (phone.VoicemailMessage, error) {
	if !idRe.MatchString(id) {
		return phone.VoicemailMessage{}, fmt.Errorf("%w %q (see trayphone messages)", ErrNoMessage, id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.read(id)
}

// MarkPlayed records that message id has been played: it is no longer new.
func (m *Machine) MarkPlayed(id string) error {
	if !idRe.MatchString(id) {
		return fmt.Errorf("%w %q (see trayphone messages)", ErrNoMessage, id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	msg, err := m.read(id)
	if err != nil {
		return err
	}
	if !msg.New {
		return nil
	}
	msg.New = false
	return m.writeMeta(msg)
}

// Delete removes message id: its sound and its details.
func (m *Machine) Delete(id string) error {
	if !idRe.MatchString(id) {
		return fmt.Errorf("%w %q (see trayphone messages)", ErrNoMessage, id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.read(id); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(m.dir, id+".wav"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete message %s: %w", id, err)
	}
	if err := os.Remove(filepath.Join(m.dir, id+".json")); err != nil {
		return fmt.Errorf("delete message %s: %w", id, err)
	}
	return nil
}

// NewCount returns how many messages have not been played.
func (m *Machine) NewCount() int {
	list, err := m.List()
	if err != nil {
		return 0
	}
	n := 0
	for _, msg := range list {
		if msg.New {
			n++
		}
	}
	return n
}
