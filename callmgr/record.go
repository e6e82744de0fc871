package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"trayphone/internal/phone"
	"trayphone/media"
)

// Call recording: `trayphone record on|off [ID]`, and every answered call with [audio]
// record_calls. A call is recorded into Config.RecordDir (0700) as a stereo WAV (0600), the
// user's side on the left, the far end's on the right (media.Recorder). Creating the file is
// disk work, so it happens on a goroutine of its own that posts the recorder back; the
// recorder's own writer goroutine does the rest. The manager goroutine only attaches and
// detaches it from the call's session.

// recordStopWait bounds how long shutdown waits for recordings to finish their files.
const recordStopWait = 2 * time.Second

// recordingOf is the call's recording state, owned by the manager goroutine.
type recordingOf struct {
	rec     *media.Recorder // attached to the session; nil when not recording
	pending bool            // a file is being created for it
	tried   bool            // record_calls has started (or tried) this call's recording
}

// Record starts (on) or stops recording call id ("" = the only answered call) and returns the
// recording's file. Starting waits for the file to be created.
func (m *Manager) Record(ctx context.Context, id string, on bool) (string, error) {
	var path string
	result := make(chan error, 1)
	err := m.do(ctx, func() error {
		c, err := m.pick(id, func(c *call) bool { return c.answered() }, "answered")
		if err != nil {
			return err
		}
		if !on {
			if c.recording.rec == nil && !c.recording.pending {
				return fmt.Errorf("call %s is not being recorded", c.id)
			}
			path = m.stopRecording(c, "")
			result <- nil
			return nil
		}
		if c.recording.rec != nil {
			path = c.recording.rec.Path()
			result <- nil
			return nil
		}
		if c.recording.pending {
			return fmt.Errorf("the recording of call %s is starting already", c.id)
		}
		m.startRecording(c, func(p string, err error) { path = p; result <- err })
		return nil
	})
	if err != nil {
		return "", err
	}
	select {
	case err := <-result:
		return path, err
	case <-ctx.Done():
		return "", ctx.Err()
	case <-m.done:
		return "", ErrStopped
	}
}

// startRecording creates c's recording file on a goroutine and attaches the recorder to c's
// session when it is there; done, if set, hears the outcome on the manager goroutine.
func (m *Manager) startRecording(c *call, done func(path string, err error)) {
	if done == nil {
		done = func(string, error) {}
	}
	if m.cfg.RecordDir == "" {
		done("", errors.New("recording is not available: this phone has no state directory"))
		return
	}
	if c.sess == nil {
		done("", fmt.Errorf("call %s has no audio yet", c.id))
		return
	}
	c.recording.pending = true
	dir, remote, now := m.cfg.RecordDir, c.remote, m.clk.Now()
	rate, frame := c.codec.SampleRate, c.codec.FrameSamples()
	id := c.id
	var rec *media.Recorder
	onStop := func(err error) {
		// On the session's or the recorder's goroutine: post, never block.
		m.post(func() { m.recordingFailed(id, rec, err) })
	}
	go func() {
		// Exits once the file is created (or could not be) and the result is posted.
		path, r, err := createRecording(dir, remote, now, rate, frame, onStop)
		rec = r // before the recorder can fail: onStop runs only after a frame reached it
		m.post(func() { m.recordingCreated(c, path, r, err, done) })
	}()
}

// createRecording makes dir (0700) and a new recording file in it named after the time and the
// remote party.
func createRecording(dir, remote string, now time.Time, rate, frame int, onStop func(error)) (string, *media.Recorder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("recording: cannot create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("recording: %w", err)
	}
	base := now.Format("2006-01-02_15-04-05") + "_" + recordingName(remote)
	for n := 1; ; n++ {
		path := filepath.Join(dir, base+".wav")
		if n > 1 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d.wav", base, n))
		}
		if _, err := os.Lstat(path); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("recording: %w", err)
		}
		r, err := media.NewRecorder(path, rate, frame, onStop)
		if err != nil {
			return "", nil, err
		}
		return path, r, nil
	}
}

// recordingName turns a remote party's address into a safe part of a file name: the scheme is
// dropped, letters, digits and . + - @ are kept, anything else becomes _, at most 64 bytes.
// The remote comes from the network: nothing in it may reach outside the directory (/, ..)
// or make the name hard to handle in a shell.
func recordingName(remote string) string {
	s := remote
	for _, p := range []string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
			break
		}
	}
	if i := strings.IndexAny(s, ";?>"); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '+', r == '-', r == '@':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0: // never a leading dot (hidden file, "..")
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	name := strings.Trim(b.String(), "_.")
	if name == "" {
		return "unknown"
	}
	return name
}

// recordingCreated runs on the manager goroutine when c's recording file was created (or
// could not be): the recorder is attached to the session if the call still has one.
func (m *Manager) recordingCreated(c *call, path string, rec *media.Recorder, err error, done func(string, error)) {
	wanted := c.recording.pending // false: the user stopped it meanwhile
	c.recording.pending = false
	if err != nil {
		m.warn(c, fmt.Sprintf("call %s cannot be recorded: %v", c.id, err))
		done("", err)
		return
	}
	if c.state == phone.CallEnded || c.sess == nil || m.calls[c.id] != c || !wanted {
		m.finishRecording(rec)
		_ = os.Remove(path) // nothing was recorded into it
		if !wanted {
			done("", fmt.Errorf("the recording of call %s was stopped before it started", c.id))
		} else {
			done("", fmt.Errorf("call %s ended before its recording started", c.id))
		}
		return
	}
	c.recording.rec = rec
	c.sess.SetRecorder(rec)
	m.log.Info("recording the call", "call", c.id, "file", path)
	snap := c.snapshot(m.clk.Now())
	m.publishStatus()
	m.hub.publish(phone.Event{Type: phone.EventRecordingStarted, Time: m.clk.Now(), Call: &snap, File: path})
	m.changed(c)
	done(path, nil)
}

// stopRecording detaches c's recorder and lets it finish its file; reason says why when the
// recording stopped by itself. It returns the file.
func (m *Manager) stopRecording(c *call, reason string) string {
	rec := c.recording.rec
	c.recording.pending = false // a file being created is dropped when it arrives (recordingCreated)
	if rec == nil {
		return ""
	}
	c.recording.rec = nil
	if c.sess != nil {
		c.sess.SetRecorder(nil)
	}
	m.finishRecording(rec)
	if reason != "" {
		m.log.Warn("the recording stopped; the call goes on", "call", c.id, "file", rec.Path(), "reason", reason)
	} else {
		m.log.Info("recording stopped", "call", c.id, "file", rec.Path())
	}
	if !c.hidden {
		snap := c.snapshot(m.clk.Now())
		m.publishStatus()
		m.hub.publish(phone.Event{Type: phone.EventRecordingStopped, Time: m.clk.Now(), Call: &snap, File: rec.Path(), Message: reason})
		if c.state != phone.CallEnded {
			m.changed(c)
		}
	}
	return rec.Path()
}

// finishRecording stops rec without waiting for the disk and remembers it until its file is
// closed, so shutdown can wait for it (bounded).
func (m *Manager) finishRecording(rec *media.Recorder) {
	rec.Stop()
	m.recFinishing = append(m.recFinishing, rec)
	live := m.recFinishing[:0]
	for _, r := range m.recFinishing {
		select {
		case <-r.Done():
		default:
			live = append(live, r)
		}
	}
	m.recFinishing = live
}

// waitRecordings waits, at most recordStopWait, for the recordings being finished to close
// their files. Shutdown calls it after the calls ended.
func (m *Manager) waitRecordings() {
	deadline := time.After(recordStopWait)
	for _, r := range m.recFinishing {
		select {
		case <-r.Done():
		case <-deadline:
			m.log.Warn("a recording did not finish its file in time; it is readable up to its last second", "file", r.Path())
			return
		}
	}
}

// recordingFailed runs on the manager goroutine when rec stopped by itself (the disk is full
// or too slow): the call goes on unrecorded and the user is told why.
func (m *Manager) recordingFailed(id string, rec *media.Recorder, err error) {
	c := m.calls[id]
	if c == nil || rec == nil || c.recording.rec != rec {
		return
	}
	reason := err.Error()
	m.stopRecording(c, reason)
	m.warn(c, fmt.Sprintf("the recording of call %s stopped: %s; the call goes on", c.id, reason))
}

// autoRecord starts recording c if [audio] record_calls asks for it and c was just answered.
func (m *Manager) autoRecord(c *call) {
	if !m.cfg.RecordCalls || c.hidden || c.recording.tried || !c.answered() || c.sess == nil {
		return
	}
	c.recording.tried = true
	m.startRecording(c, nil)
}

// RecordArgs are the arguments of the "record" control command.
type RecordArgs struct {
	ID string `json:"id,omitempty"`
	On bool   `json:"on"`
}

// RecordCommand is the control handler of "record": {"file": path}.
func RecordCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a RecordArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("record: unreadable arguments: %v", err)
			}
		}
		path, err := m.Record(ctx, a.ID, a.On)
		if err != nil {
			return nil, err
		}
		return map[string]string{"file": path}, nil
	}
}
