package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"trayphone/internal/testenv"
	"trayphone/media/portaudio"
)

func TestPrintDevices(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := printDevices(nil, false, &out, &errOut); code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), "no audio devices found") {
		t.Errorf("no devices as text: exit %d, stdout %q, stderr %q; want exit 1 and a reason on stderr", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := printDevices(nil, true, &out, &errOut); code != 0 || strings.TrimSpace(out.String()) != "[]" || errOut.Len() == 0 {
		t.Errorf("no devices as JSON: exit %d, stdout %q, stderr %q; want [] and a reason on stderr", code, out.String(), errOut.String())
	}

	devs := []portaudio.DeviceInfo{
		{Name: "default", MaxIn: 32, MaxOut: 32, Default: true, DefaultRate: 44100},
		{Name: "alsa_output.usb-Jabra", Description: "Jabra Evolve 20 Analog Stereo", MaxOut: 2, Server: true, DefaultRate: 48000},
		{Name: "alsa_output.usb-Jabra.monitor", Description: "Monitor of Jabra Evolve 20", MaxIn: 2, Server: true, Monitor: true},
	}
	out.Reset()
	if code := printDevices(devs, false, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	wantText := "default (default)\tin:32 out:32 rate:44100\n" +
		"alsa_output.usb-Jabra\tJabra Evolve 20 Analog Stereo (sound server)\tin:0 out:2\n" +
		"alsa_output.usb-Jabra.monitor\tMonitor of Jabra Evolve 20 (sound server, monitor)\tin:2 out:0\n"
	if out.String() != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", out.String(), wantText)
	}
	out.Reset()
	if code := printDevices(devs, true, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("JSON %q: %v", out.String(), err)
	}
	if len(got) != 3 || got[0]["name"] != "default" || got[0]["default"] != true || got[0]["inputs"] != 32.0 ||
		got[1]["description"] != "Jabra Evolve 20 Analog Stereo" || got[1]["sound_server"] != true || got[1]["outputs"] != 2.0 ||
		got[2]["monitor"] != true || got[2]["inputs"] != 2.0 {
		t.Errorf("JSON = %s", out.String())
	}
}

// TestDevicesCommand runs "trayphone devices" against a private PipeWire: the null sink and its
// monitor are listed (as JSON with --json), and nothing else is printed: ALSA's and JACK's
// complaints about a machine without a card or a JACK server stay out of the user's terminal.
func TestDevicesCommand(t *testing.T) {
	if _, err := portaudio.ListDevices(); err != nil && strings.Contains(err.Error(), "noportaudio") {
		t.Skip(err)
	}
	testenv.StartPipeWire(t)
	run := func(env []string, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("trayphone %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), errOut.String()
	}

	out, errOut := run(nil, "devices", "--json")
	if errOut != "" {
		t.Errorf("devices --json printed on stderr:\n%s", errOut)
	}
	var devs []deviceJSON
	if err := json.Unmarshal([]byte(out), &devs); err != nil {
		t.Fatalf("devices --json printed %q: %v", out, err)
	}
	var sink, monitor bool
	for _, d := range devs {
		sink = sink || d.Name == "nullsink" && d.SoundServer && d.Default && d.Outputs == 1
		monitor = monitor || d.Name == "nullsink.monitor" && d.SoundServer && d.Monitor && d.Inputs == 1
	}
	if !sink || !monitor {
		t.Errorf("devices --json = %s\nwant the default null sink and its monitor", out)
	}

	out, errOut = run(nil, "devices")
	if errOut != "" {
		t.Errorf("devices printed on stderr:\n%s", errOut)
	}
	if !strings.Contains(out, "nullsink (default)\t") || !strings.Contains(out, "nullsink.monitor") {
		t.Errorf("devices printed:\n%s\nwant nullsink (default) and nullsink.monitor", out)
	}

	// What was silenced is there to see when asked for (on this machine: no card, no JACK).
	_, debugErr := run([]string{portaudio.AudioDebugEnv + "=1"}, "devices")
	t.Logf("with %s=1, ALSA and JACK printed %d lines", portaudio.AudioDebugEnv, strings.Count(debugErr, "\n"))
}
