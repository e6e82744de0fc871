//go:build cgo && linux && !noportaudio

package portaudio

import (
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/media"
)

func TestFindServerDevice(t *testing.T) {
	devs := []serverDevice{
		{name: "alsa_output.usb-Logi_Headset-00.analog-stereo", description: "Logi USB Headset Analog Stereo"},
		{name: "alsa_output.pci-0000_00_1f.3.analog-stereo", description: "Built-in Audio Analog Stereo", isDefault: true},
		{name: "alsa_input.usb-Logi_Headset-00.mono-fallback", description: "Logi USB Headset Mono", input: true},
		{name: "alsa_output.usb-Logi_Headset-00.analog-stereo.monitor", description: "Monitor of Logi USB Headset Analog Stereo", input: true, monitor: true},
		{name: "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", description: "Monitor of Built-in Audio Analog Stereo", input: true, monitor: true},
	}
	for _, tc := range []struct {
		name  string
		input bool
		want  string // "" for no match
		err   string
	}{
		{"usb headset", false, "alsa_output.usb-Logi_Headset-00.analog-stereo", ""},
		{"usb headset", true, "alsa_input.usb-Logi_Headset-00.mono-fallback", ""}, // not its monitor
		{"Built-in", false, "alsa_output.pci-0000_00_1f.3.analog-stereo", ""},
		{"alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", true, "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", ""},
		{"analog stereo", false, "", "ambiguous"},
		{"bluetooth", false, "", ""},
		{"built-in", true, "", ""}, // only the monitor matches, and monitors go by exact name
	} {
		got, err := findServerDevice(devs, tc.name, tc.input)
		gotName := ""
		if got != nil {
			gotName = got.name
		}
		if gotName != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("findServerDevice(%q, input %v) = %q, %v; want %q, error containing %q", tc.name, tc.input, gotName, err, tc.want, tc.err)
		}
	}
}

// TestNoSoundServer: with no server reachable, devices are PortAudio's only, as before.
func TestNoSoundServer(t *testing.T) {
	t.Setenv("PULSE_SERVER", "unix:"+t.TempDir()+"/nothing-here")
	start := time.Now()
	devs, err := ListDevices()
	if err != nil {
		t.Fatalf("ListDevices: %v", err)
	}
	for _, d := range devs {
		if d.Server {
			t.Errorf("got sound-server device %+v with no server", d)
		}
	}
	d, err := newDevice("", "no-such-headset", false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := d.Open(8000, 160); err == nil {
		s.Close()
		t.Fatal("opened a device that does not exist")
	} else if !strings.Contains(err.Error(), `no audio output device named "no-such-headset"`) {
		t.Errorf("got %v, want it to say there is no such output device", err)
	}
	t.Logf("listing and failing to open took %v without a server", time.Since(start))
}

// loadSink loads a mono null sink called name into the test's PipeWire and returns its module.
func loadSink(t *testing.T, name, description string) string {
	t.Helper()
	out, err := exec.Command("pactl", "load-module", "module-null-sink", "sink_name="+name, "media.class=Audio/Sink",
		"channel_map=mono", "rate=48000", "sink_properties=device.description="+description).Output()
	if err != nil {
		t.Fatalf("load the sink %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// peak returns the largest absolute sample.
func peak(p []int16) float64 {
	var m float64
	for _, v := range p {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// TestSoundServerDevices lists a second null sink ("a USB headset") by name and description,
// plays a tone to it by name and hears it on that sink's monitor only.
func TestSoundServerDevices(t *testing.T) {
	startPipeWire(t)
	loadSink(t, "tpusb", "Trayphone-USB-Headset")

	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	var sink, monitor, def bool
	for _, d := range devs {
		if d.Server {
			t.Logf("server device %+v", d)
		}
		sink = sink || d.Server && d.Name == "tpusb" && d.Description == "Trayphone-USB-Headset" && d.MaxOut == 1 && d.MaxIn == 0
		monitor = monitor || d.Server && d.Name == "tpusb.monitor" && d.Monitor && d.MaxIn == 1
		def = def || d.Server && d.Name == "nullsink" && d.Default
	}
	if !sink || !monitor || !def {
		t.Errorf("got sink %v, its monitor %v, default nullsink %v; want all listed", sink, monitor, def)
	}

	// Play to the sink by a part of its description; listen on its monitor and the default's.
	out, err := newDevice("", "usb-headset", false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	play, err := out.Open(16000, 320)
	if err != nil {
		t.Fatal(err)
	}
	defer play.Close()
	if got := play.(*paStream).name; got != "tpusb" {
		t.Errorf("got stream on %q, want tpusb", got)
	}
	onSink, onDefault := openCapture(t, "tpusb.monitor", 16000, 320), openCapture(t, "nullsink.monitor", 16000, 320)
	tone := audiotest.Tone(1000, 0.5, 16000, 320)
	in := make([]int16, 320)
	var peakSink, peakDefault float64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range 75 {
		<-tick.C
		if err := play.Write(tone); err != nil {
			t.Fatal(err)
		}
		if err := onSink.Read(in); err != nil {
			t.Fatal(err)
		}
		if i > 25 {
			peakSink = max(peakSink, peak(in))
		}
		if err := onDefault.Read(in); err != nil {
			t.Fatal(err)
		}
		peakDefault = max(peakDefault, peak(in))
	}
	t.Logf("tone peak on tpusb's monitor %.0f, on the default's %.0f (wrote 16384)", peakSink, peakDefault)
	if peakSink < 8000 {
		t.Errorf("got peak %.0f on the named sink's monitor, want the tone (16384)", peakSink)
	}
	if peakDefault > 500 {
		t.Errorf("got peak %.0f on the default sink's monitor, want silence", peakDefault)
	}
}

// openCapture opens the named capture device (e.g. a sink's monitor) at rate in frames of frame
// samples; the stream is closed when the test ends.
func openCapture(t *testing.T, name string, rate, frame int) media.Stream {
	t.Helper()
	d, err := newDevice(name, "", true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Open(rate, frame)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
