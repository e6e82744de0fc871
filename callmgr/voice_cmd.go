package callmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"trayphone/media"
)

// playArgs are the arguments of the "play" control command (control.PlayArgs).
type playArgs struct {
	ID   string `json:"id"`
	File string `json:"file,omitempty"`
	Loop bool   `json:"loop,omitempty"`
	Stop bool   `json:"stop,omitempty"`
}

// PlayResult is the answer to "play".
type PlayResult struct {
	Call    string  `json:"call"`
	File    string  `json:"file,omitempty"`
	Seconds float64 `json:"seconds,omitempty"` // the sound's length
	Playing bool    `json:"playing,omitempty"` // --loop: it goes on after the answer
	Stopped bool    `json:"stopped,omitempty"` // it ended early (--stop, another sound, voicemail); for --stop: something played
}

// PlayCommand serves "play": {"id", "file", "loop"} plays a WAV file into the call and answers
// when it has played (at once with loop); {"id", "stop": true} stops what plays. The file is
// read and converted here, on the control connection's goroutine, never on the manager's.
func PlayCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a playArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("play: unreadable arguments: %v", err)
			}
		}
		if a.Stop {
			stopped, err := m.StopPlay(ctx, a.ID)
			return PlayResult{Call: a.ID, Stopped: stopped}, err
		}
		if a.File == "" {
			return nil, errors.New("play needs a WAV file")
		}
		if !filepath.IsAbs(a.File) {
			return nil, fmt.Errorf("cannot play %s: give the file's absolute path (the phone runs in another directory)", a.File)
		}
		id, rate, err := m.PlayRate(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		pcm, err := LoadSound(a.File, rate)
		if err != nil {
			return nil, err
		}
		done, err := m.Play(ctx, id, rate, pcm, a.Loop)
		if err != nil {
			return nil, err
		}
		res := PlayResult{Call: id, File: a.File, Seconds: float64(len(pcm)) / float64(rate)}
		if a.Loop {
			res.Playing = true
			return res, nil
		}
		select {
		case err := <-done:
			if errors.Is(err, errPlayStopped) {
				res.Stopped = true
				return res, nil
			}
			if err != nil {
				return nil, fmt.Errorf("call %s: %w", id, err)
			}
			return res, nil
		case <-ctx.Done():
			_, _ = m.StopPlay(context.Background(), id)
			return nil, ctx.Err()
		}
	}
}

// LoadSound reads a WAV file for playing into a call at rate: any PCM WAV (8 or 16 bits, any
// rate and channel count) is mixed down and resampled; anything else is refused with the reason.
func LoadSound(path string, rate int) ([]int16, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cannot play %s: there is no such file", path)
	case err != nil:
		return nil, fmt.Errorf("cannot play %s: %w", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("cannot play %s: it is a directory, not a WAV file", path)
	case st.Size() > maxSoundBytes:
		return nil, fmt.Errorf("cannot play %s: %d MB is too long (at most %d MB)", path, st.Size()>>20, maxSoundBytes>>20)
	}
	pcm, err := media.LoadWAVMono(path, rate)
	if err != nil {
		return nil, fmt.Errorf("cannot play %s: %v (trayphone plays PCM WAV files with 8- or 16-bit samples)", path, unwrapAll(err))
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("cannot play %s: the file holds no audio", path)
	}
	return pcm, nil
}

// maxSoundBytes bounds a file read whole into memory for playing (about 50 minutes at 16 kHz).
const maxSoundBytes = 100 << 20

// unwrapAll returns the innermost error: the WAV reader's reason without the path repeated.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// recordFarArgs are the arguments of the "record-far" control command (control.RecordFarArgs).
type recordFarArgs struct {
	ID      string  `json:"id"`
	File    string  `json:"file,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Stop    bool    `json:"stop,omitempty"`
}

// RecordFarCommand serves "record-far": {"id", "file", "seconds"} records what the far end sends
// into a new WAV file (0600) and answers when the recording ends (the time limit, the call's
// end, or {"id", "stop": true}) with a RecordResult.
func RecordFarCommand(m *Manager) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a recordFarArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("record-far: unreadable arguments: %v", err)
			}
		}
		if a.Stop {
			stopped, err := m.StopRecordFar(ctx, a.ID)
			return map[string]any{"call": a.ID, "stopped": stopped}, err
		}
		switch {
		case a.File == "":
			return nil, errors.New("record-far needs a WAV file to write")
		case !filepath.IsAbs(a.File):
			return nil, fmt.Errorf("cannot record to %s: give the file's absolute path (the phone runs in another directory)", a.File)
		case a.Seconds < 0 || math.IsNaN(a.Seconds) || a.Seconds > 24*3600:
			return nil, fmt.Errorf("cannot record for %v seconds: give a number of seconds from 0 (no limit) to 86400", a.Seconds)
		}
		if st, err := os.Stat(a.File); err == nil && st.IsDir() {
			return nil, fmt.Errorf("cannot record to %s: it is a directory", a.File)
		}
		id, rate, err := m.PlayRate(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		w, err := media.NewWAVWriter(a.File, rate, 1)
		if err != nil {
			return nil, fmt.Errorf("cannot record to %s: %v", a.File, unwrapAll(err))
		}
		res, err := m.RecordFar(ctx, id, w, a.File, rate, a.Seconds)
		if err != nil {
			_ = os.Remove(a.File) // nothing was recorded: leave no empty file behind
			return nil, err
		}
		if res.Error != "" {
			return nil, errors.New(res.Error)
		}
		return res, nil
	}
}
