package callmgr

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trayphone/internal/audiotest"
	"trayphone/internal/phone"
	"trayphone/internal/siptest/baresip"
	"trayphone/internal/testenv"
	"trayphone/media"
)

// waitEvent returns the first event of type typ from c's stream, failing after timeout.
func (c *core) waitEvent(timeout time.Duration, typ phone.EventType) phone.Event {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, open := <-c.events:
			if !open {
				c.t.Fatalf("%s: event stream closed while waiting for %s", c.name, typ)
			}
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			c.t.Fatalf("%s: no %s event within %s; status: %+v", c.name, typ, timeout, c.mgr.Status())
		}
	}
}

// readStereo reads a recording and splits it into its left (near) and right (far) channels.
func readStereo(t *testing.T, path string) (near, far []int16, rate int) {
	t.Helper()
	s, rate, ch, err := media.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if ch != 2 {
		t.Fatalf("%s: %d channels, want 2 (near end left, far end right)", path, ch)
	}
	near, far = make([]int16, len(s)/2), make([]int16, len(s)/2)
	for i := range near {
		near[i], far[i] = s[2*i], s[2*i+1]
	}
	return near, far, rate
}

// judgeChannel measures one channel of a recording over the whole call: the tone at freq,
// whole-call SINAD >= minSINAD, no clicks, no gaps, and the tone present for at least least.
func judgeChannel(t *testing.T, what string, s []int16, rate int, freq, minSINAD float64, least time.Duration) {
	t.Helper()
	c, err := audiotest.MeasureCall(s, rate, freq)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %v", what, c)
	var problems []string
	if c.End-c.Start < least {
		problems = append(problems, fmt.Sprintf("%s: only %s of the tone, want %s", what, c.End-c.Start, least))
	}
	if math.Abs(c.FreqHz-freq) > 2 {
		problems = append(problems, fmt.Sprintf("%s: tone at %.1f Hz, want %.0f", what, c.FreqHz, freq))
	}
	if c.SINADdB < minSINAD || c.Clicks > 0 || c.Gaps > 0 {
		problems = append(problems, fmt.Sprintf("%s: whole-call SINAD %.1f dB, %d clicks, %d gaps; want >= %.0f dB, none, none", what, c.SINADdB, c.Clicks, c.Gaps, minSINAD))
	}
	if len(problems) == 0 {
		return
	}
	if n := disturbance(t); n > 0 {
		t.Skipf("this machine disturbed the call (%d skipped ticks, late or concealed frames on loopback): %s", n, strings.Join(problems, "; "))
	}
	t.Error(strings.Join(problems, "; "))
}

// TestRecordBaresip: with record_calls, a call to a real baresip sending a 1004 Hz tone while we
// send 604 Hz is recorded from answer to hang-up: our side on the left, baresip's on the right,
// each clean over the whole call, and the file lasts as long as the call.
func TestRecordBaresip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 1004, Codecs: []string{"pcmu"}})
	a := startCore(t, "alice", coreOpts{toneHz: 604, codecs: []media.Codec{media.PCMU}, recordDir: dir, recordCalls: true})
	ci, err := a.mgr.Call(ctx(t), bob.URI(), "")
	if err != nil {
		t.Fatal(err)
	}
	started := a.waitEvent(10*time.Second, phone.EventRecordingStarted)
	if started.File == "" || started.Call == nil || started.Call.Recording != started.File {
		t.Fatalf("recording_started: file %q, call %+v", started.File, started.Call)
	}
	if got := a.mgr.Status().Calls; len(got) != 1 || got[0].Recording != started.File {
		t.Errorf("status shows recording %+v, want %s", got, started.File)
	}
	if _, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	if err := a.mgr.Hangup(ctx(t), ci.ID); err != nil {
		t.Fatal(err)
	}
	stopped := a.waitEvent(5*time.Second, phone.EventRecordingStopped)
	if stopped.File != started.File || stopped.Message != "" {
		t.Errorf("recording_stopped: file %q, message %q; want %q and no message", stopped.File, stopped.Message, started.File)
	}
	ended := a.waitState(5*time.Second, phone.CallEnded)
	if _, err := bob.WaitEvent(baresip.CallClosed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.stop() // waits for the recording's file to be finished
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {started.File, 0o600}} {
		fi, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != p.mode {
			t.Errorf("%s: mode %v, want %v", p.path, m, p.mode)
		}
	}
	if filepath.Dir(started.File) != dir || !strings.Contains(filepath.Base(started.File), "bob@127.0.0.1") {
		t.Errorf("file %s: want it in %s, named after bob@127.0.0.1", started.File, dir)
	}
	near, far, rate := readStereo(t, started.File)
	if rate != 8000 {
		t.Errorf("rate %d, want 8000", rate)
	}
	got := time.Duration(len(near)) * time.Second / time.Duration(rate)
	want := time.Duration(float64(ended.Duration) * float64(time.Second))
	t.Logf("recording %s, call answered for %s", got, want.Round(time.Millisecond))
	if d := got - want; d < -150*time.Millisecond || d > 150*time.Millisecond {
		t.Errorf("the recording lasts %s, the call %s: want them within 150 ms", got, want)
	}
	judgeChannel(t, "near (left)", near, rate, 604, 40, 3500*time.Millisecond)
	judgeChannel(t, "far (right)", far, rate, 1004, 30, 3500*time.Millisecond)
	// The far end's channel is what the speaker played: a.out.
	checkToneFrom(t, a, media.PCMU, 1004, 30)
}

// TestRecordToggle: record on and off by command between two cores; status and events show it;
// the files are private, and a second recording of the same call gets a new file.
func TestRecordToggle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	a := startCore(t, "alice", coreOpts{toneHz: 604, recordDir: dir})
	b := startCore(t, "bob", coreOpts{toneHz: 1004})
	ca, _ := established(t, a, b)
	if _, err := a.mgr.Record(ctx(t), ca.ID, false); err == nil || !strings.Contains(err.Error(), "not being recorded") {
		t.Errorf("record off before on: %v, want 'not being recorded'", err)
	}
	var files []string
	for range 2 {
		path, err := a.mgr.Record(ctx(t), "", true)
		if err != nil {
			t.Fatalf("record on: %v", err)
		}
		if ev := a.waitEvent(5*time.Second, phone.EventRecordingStarted); ev.File != path {
			t.Errorf("recording_started for %q, want %q", ev.File, path)
		}
		if again, err := a.mgr.Record(ctx(t), ca.ID, true); err != nil || again != path {
			t.Errorf("record on again: %q, %v; want the same file", again, err)
		}
		if st := a.mgr.Status(); st.Calls[0].Recording != path {
			t.Errorf("status: recording %q, want %q", st.Calls[0].Recording, path)
		}
		time.Sleep(1500 * time.Millisecond)
		off, err := a.mgr.Record(ctx(t), ca.ID, false)
		if err != nil || off != path {
			t.Fatalf("record off: %q, %v; want %q", off, err, path)
		}
		if ev := a.waitEvent(5*time.Second, phone.EventRecordingStopped); ev.File != path || ev.Message != "" {
			t.Errorf("recording_stopped: %q %q", ev.File, ev.Message)
		}
		if st := a.mgr.Status(); st.Calls[0].Recording != "" || st.Calls[0].State != phone.CallActive {
			t.Errorf("after off: recording %q, state %s; want none, active", st.Calls[0].Recording, st.Calls[0].State)
		}
		files = append(files, path)
	}
	if files[0] == files[1] {
		t.Errorf("both recordings went to %s", files[0])
	}
	a.stop()
	for _, f := range files {
		near, far, rate := readStereo(t, f)
		got := time.Duration(len(near)) * time.Second / time.Duration(rate)
		if got < 1300*time.Millisecond || got > 1800*time.Millisecond {
			t.Errorf("%s lasts %s, want about 1.5 s", f, got)
		}
		judgeChannel(t, filepath.Base(f)+" near", near, rate, 604, 40, time.Second)
		judgeChannel(t, filepath.Base(f)+" far", far, rate, 1004, 30, time.Second)
	}
}

// TestRecordingName: what the network says about the remote party cannot leave the directory or
// make an awkward file name.
func TestRecordingName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"sip:bob@example.org", "bob@example.org"},
		{"sips:bob@example.org;transport=tls", "bob@example.org"},
		{"tel:+1-555-0100", "+1-555-0100"},
		{"sip:../../etc/passwd@x", "etc_passwd@x"},
		{"sip:$(touch /tmp/x)@evil", "touch__tmp_x_@evil"},
		{"sip:..", "unknown"},
		{"", "unknown"},
		{"sip:" + strings.Repeat("a", 200), strings.Repeat("a", 64)},
		{"sip:bob\u202e@evil\n", "bob_@evil"},
	} {
		if got := recordingName(tc.in); got != tc.want {
			t.Errorf("recordingName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// diskFullEnv makes TestRecordDiskFull run its call: it is set in the child that runs in a
// mount namespace of its own with a small tmpfs at the given directory.
const diskFullEnv = "TRAYPHONE_TEST_RECORD_TMPFS"

// TestRecordDiskFull: the recording goes to a 64 KiB tmpfs (about 2 s of a G.711 call) in a
// mount namespace of the test's own. When it fills, the recording stops with "the disk is
// full", recording_stopped says so, and the call goes on with its audio intact.
func TestRecordDiskFull(t *testing.T) {
	dir := os.Getenv(diskFullEnv)
	if dir == "" {
		if os.Geteuid() != 0 {
			testenv.Missing(t, "a tmpfs in a mount namespace needs root")
		}
		unshare := testenv.RequireProgram(t, "unshare")
		dir = t.TempDir()
		// The child mounts the tmpfs in a mount namespace of its own: nothing outside sees it
		// and it goes away with the child.
		cmd := exec.Command(unshare, "--mount", "--propagation", "private", "--",
			"sh", "-c", `mount -t tmpfs -o size=64k,mode=0700 tmpfs "$1" && exec "$2" -test.run='^TestRecordDiskFull$' -test.v -test.count=1`,
			"sh", dir, os.Args[0])
		cmd.Env = append(os.Environ(), diskFullEnv+"="+dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("child:\n%s", out.String())
		if err != nil || !strings.Contains(out.String(), "--- PASS: TestRecordDiskFull") {
			t.Fatalf("the test in the mount namespace failed: %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the tmpfs leaked out of the namespace: %s holds %d entries", dir, len(entries))
		}
		return
	}
	a := startCore(t, "alice", coreOpts{toneHz: 604, recordDir: filepath.Join(dir, "recordings"), recordCalls: true})
	b := startCore(t, "bob", coreOpts{toneHz: 1004})
	established(t, a, b)
	started := a.waitEvent(5*time.Second, phone.EventRecordingStarted)
	stopped := a.waitEvent(10*time.Second, phone.EventRecordingStopped)
	t.Logf("recording stopped: %s", stopped.Message)
	if stopped.File != started.File || !strings.Contains(stopped.Message, "the disk is full") {
		t.Errorf("recording_stopped: file %q, message %q; want %q, 'the disk is full'", stopped.File, stopped.Message, started.File)
	}
	if stopped.Call == nil || stopped.Call.State != phone.CallActive || stopped.Call.Recording != "" {
		t.Errorf("the call with the stopped recording: %+v; want active, not recording", stopped.Call)
	}
	time.Sleep(2 * time.Second) // the call goes on past the full disk
	st := a.mgr.Status()
	if len(st.Calls) != 1 || st.Calls[0].State != phone.CallActive {
		t.Fatalf("after the disk filled: %+v, want the call active", st.Calls)
	}
	if err := a.mgr.Hangup(ctx(t), st.Calls[0].ID); err != nil {
		t.Fatal(err)
	}
	a.waitState(5*time.Second, phone.CallEnded)
	a.stop()
	b.stop()
	// The call's audio was not held up by the disk: both ends heard each other throughout.
	checkTone(t, a.out, 1004, 30)
	checkTone(t, b.out, 604, 30)
	// The recording holds what fitted, readable.
	near, _, rate := readStereo(t, started.File)
	if d := time.Duration(len(near)) * time.Second / time.Duration(rate); d < time.Second {
		t.Errorf("the recording holds %s, want the second or more that fitted", d)
	}
}
