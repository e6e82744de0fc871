package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"trayphone/media/portaudio"
)

// deviceJSON is one device in "trayphone devices --json".
type deviceJSON struct {
	// Name is what audio.input, audio.output and audio.ringer take ("portaudio:" + Name on
	// the command line).
	Name string `json:"name"`
	// Description is the sound server's name for it, as the desktop shows it.
	Description string `json:"description,omitempty"`
	Inputs      int    `json:"inputs"`
	Outputs     int    `json:"outputs"`
	Default     bool   `json:"default"`
	Rate        int    `json:"rate,omitempty"`
	// SoundServer marks a sink or source of PipeWire or PulseAudio; Monitor one that captures what
	// a sink plays.
	SoundServer bool `json:"sound_server"`
	Monitor     bool `json:"monitor,omitempty"`
}

// noDevices explains an empty list.
const noDevices = "no audio devices found: no sound card, and no PipeWire or PulseAudio server answered " +
	"(set " + portaudio.AudioDebugEnv + "=1 to see what ALSA and JACK say)"

// runDevices lists the audio devices: "trayphone devices [--json]".
func runDevices(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "trayphone devices: unexpected %q (usage: trayphone devices [--json])\n", fs.Arg(0))
		return 2
	}
	devs, err := portaudio.ListDevices()
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	return printDevices(devs, *asJSON, stdout, stderr)
}

// printDevices prints devs as text lines or a JSON array. An empty list is an empty JSON array
// (exit 0) or, as text, a line on stderr saying why (exit 1).
func printDevices(devs []portaudio.DeviceInfo, asJSON bool, stdout, stderr io.Writer) int {
	if asJSON {
		out := make([]deviceJSON, 0, len(devs))
		for _, d := range devs {
			out = append(out, deviceJSON{Name: d.Name, Description: d.Description, Inputs: d.MaxIn, Outputs: d.MaxOut,
				Default: d.Default, Rate: d.DefaultRate, SoundServer: d.Server, Monitor: d.Monitor})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "trayphone: %v\n", err)
			return 1
		}
		if len(devs) == 0 {
			fmt.Fprintf(stderr, "trayphone: %s\n", noDevices)
		}
		return 0
	}
	if len(devs) == 0 {
		fmt.Fprintf(stderr, "trayphone: %s\n", noDevices)
		return 1
	}
	for _, d := range devs {
		def := ""
		if d.Default {
			def = " (default)"
		}
		switch {
		case d.Server && d.Description != "":
			// A sink or source of the sound server (PipeWire, PulseAudio): its name is what the
			// config takes, its description what the desktop shows.
			kind := "sound server"
			if d.Monitor {
				kind += ", monitor"
			}
			fmt.Fprintf(stdout, "%s%s\t%s (%s)\tin:%d out:%d\n", d.Name, def, d.Description, kind, d.MaxIn, d.MaxOut)
		default:
			fmt.Fprintf(stdout, "%s%s\tin:%d out:%d rate:%d\n", d.Name, def, d.MaxIn, d.MaxOut, d.DefaultRate)
		}
	}
	return 0
}
