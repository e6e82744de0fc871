package control

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Voice-app commands (issue 16 item 4): play a WAV file into a call, record what the far end
// sends, say a text through espeak-ng. callmgr.PlayCommand and callmgr.RecordFarCommand serve
// "play" and "record-far"; "say" makes its WAV here, in the client, and plays it.
func init() {
	cliCommands["play"] = &cliCommand{usage: "ID FILE.wav [--loop] | ID --stop [--json]", minArgs: 1, maxArgs: 2, json: true,
		summary: "play a WAV file to the far end of call ID (instead of the microphone); returns when it has played (--loop: at once, until --stop)",
		run:     runPlay}
	cliCommands["record-far"] = &cliCommand{usage: "ID FILE.wav [--seconds N] | ID --stop [--json]", minArgs: 1, maxArgs: 2, json: true,
		summary: "record what the far end of call ID sends into FILE.wav (0600) until N seconds, the call's end, or --stop",
		run:     runRecordFar}
	cliCommands["say"] = &cliCommand{usage: "ID TEXT [--json]", minArgs: 2, maxArgs: 2, json: true,
		summary: "speak TEXT to the far end of call ID through espeak-ng (as play does); returns when it has been said",
		run:     runSay}
}

// voiceFlags are the flags of the voice-app commands.
type voiceFlags struct {
	loop, stop bool
	seconds    float64
}

// register adds the flags of command name to fs.
func (v *voiceFlags) register(name string, fs *flag.FlagSet) {
	switch name {
	case "play":
		fs.BoolVar(&v.loop, "loop", false, "play the file again and again until play ID --stop")
		fs.BoolVar(&v.stop, "stop", false, "stop what plays into the call")
	case "record-far":
		fs.Float64Var(&v.seconds, "seconds", 0, "stop after `N` seconds (0: at the call's end or record-far ID --stop)")
		fs.BoolVar(&v.stop, "stop", false, "stop the call's recording")
	}
}

// PlayArgs are the arguments of "play": File (an absolute path) into call ID, again and again
// with Loop; Stop stops what plays.
type PlayArgs struct {
	ID   string `json:"id"`
	File string `json:"file,omitempty"`
	Loop bool   `json:"loop,omitempty"`
	Stop bool   `json:"stop,omitempty"`
}

// PlayResult is the phone's answer to "play".
type PlayResult struct {
	Call    string  `json:"call"`
	File    string  `json:"file,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Playing bool    `json:"playing,omitempty"`
	Stopped bool    `json:"stopped,omitempty"`
}

// RecordFarArgs are the arguments of "record-far".
type RecordFarArgs struct {
	ID      string  `json:"id"`
	File    string  `json:"file,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Stop    bool    `json:"stop,omitempty"`
}

// RecordFarResult is the phone's answer to "record-far" (not --stop).
type RecordFarResult struct {
	File    string  `json:"file"`
	Seconds float64 `json:"seconds"`
	Ended   string  `json:"ended"`
	Dropped int64   `json:"dropped_frames,omitempty"`
}

// absFile makes a path given on the command line absolute: the phone runs in another directory.
func absFile(p string) (string, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %v", p, err)
	}
	return a, nil
}

func runPlay(ctx context.Context, c *Client, inv *invocation) error {
	a := PlayArgs{ID: inv.arg(0), Loop: inv.voice.loop, Stop: inv.voice.stop}
	switch {
	case a.Stop && (inv.arg(1) != "" || a.Loop):
		return usageError{"--stop takes only the call ID"}
	case !a.Stop && inv.arg(1) == "":
		return usageError{"give the WAV file to play into call " + a.ID}
	}
	if !a.Stop {
		f, err := absFile(inv.arg(1))
		if err != nil {
			return err
		}
		a.File = f
	}
	return doPlay(ctx, c, inv, a)
}

func doPlay(ctx context.Context, c *Client, inv *invocation, a PlayArgs) error {
	var res PlayResult
	if err := c.Do(ctx, "play", a, &res); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, res)
	}
	var msg string
	switch {
	case a.Stop && res.Stopped:
		msg = "stopped"
	case a.Stop:
		msg = "nothing was playing"
	case res.Playing:
		msg = fmt.Sprintf("playing %s into call %s again and again (stop with: trayphone play %s --stop)", res.File, res.Call, res.Call)
	case res.Stopped:
		msg = fmt.Sprintf("stopped before the end of %s", res.File)
	case inv.name == "say":
		msg = fmt.Sprintf("said it (%.1f s) into call %s", res.Seconds, res.Call)
	default:
		msg = fmt.Sprintf("played %s (%.1f s) into call %s", res.File, res.Seconds, res.Call)
	}
	_, err := fmt.Fprintln(inv.stdout, msg)
	return err
}

func runRecordFar(ctx context.Context, c *Client, inv *invocation) error {
	a := RecordFarArgs{ID: inv.arg(0), Seconds: inv.voice.seconds, Stop: inv.voice.stop}
	switch {
	case a.Stop && (inv.arg(1) != "" || a.Seconds != 0):
		return usageError{"--stop takes only the call ID"}
	case !a.Stop && inv.arg(1) == "":
		return usageError{"give the WAV file to record call " + a.ID + " into"}
	case a.Seconds < 0:
		return usageError{"--seconds must be 0 (no limit) or more"}
	}
	if a.Stop {
		var res struct {
			Stopped bool `json:"stopped"`
		}
		if err := c.Do(ctx, "record-far", a, &res); err != nil {
			return err
		}
		msg := "stopped"
		if !res.Stopped {
			msg = "nothing was being recorded"
		}
		_, err := fmt.Fprintln(inv.stdout, msg)
		return err
	}
	f, err := absFile(inv.arg(1))
	if err != nil {
		return err
	}
	a.File = f
	var res RecordFarResult
	if err := c.Do(ctx, "record-far", a, &res); err != nil {
		return err
	}
	if inv.json {
		return printJSON(inv.stdout, res)
	}
	msg := fmt.Sprintf("recorded %.1f s of call %s into %s (ended by %s)", res.Seconds, a.ID, res.File, res.Ended)
	if res.Dropped > 0 {
		msg += fmt.Sprintf("; %d frames were lost because the disk was too slow", res.Dropped)
	}
	_, err = fmt.Fprintln(inv.stdout, msg)
	return err
}

// maxSayText bounds the text of one "say".
const maxSayText = 4000

// espeakProgram is the text-to-speech program "say" runs.
const espeakProgram = "espeak-ng"

// runSay speaks a text into a call: espeak-ng writes a WAV file (0600, removed afterwards) from
// the text, which it reads on its standard input — the text never reaches a shell or espeak-ng's
// command line — and the phone plays it.
func runSay(ctx context.Context, c *Client, inv *invocation) error {
	text := strings.TrimSpace(inv.arg(1))
	switch {
	case text == "":
		return usageError{"give the text to say"}
	case len(text) > maxSayText:
		return usageError{fmt.Sprintf("the text is %d bytes long; say at most %d at a time", len(text), maxSayText)}
	}
	prog, err := exec.LookPath(espeakProgram)
	if err != nil {
		return fmt.Errorf("say needs the text-to-speech program %s, which is not installed (Debian: apt-get install espeak-ng)", espeakProgram)
	}
	tmp, err := os.CreateTemp("", "trayphone-say-*.wav") // 0600
	if err != nil {
		return fmt.Errorf("say: %v", err)
	}
	path := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(path)
	cmd := exec.CommandContext(ctx, prog, "-w", path, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s failed: %v %s", espeakProgram, err, msg)
	}
	if st, err := os.Stat(path); err != nil || st.Size() <= 44 {
		return errors.New(espeakProgram + " made no sound of the text")
	}
	return doPlay(ctx, c, inv, PlayArgs{ID: inv.arg(0), File: path})
}
