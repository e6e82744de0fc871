package rt

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// A computer that is busy when a call starts: the call runs in the real-time class from its
// first packet. Waiting for the call's own ticks to run late (media's rtTrigger) costs the call its
// first second or more on such a computer: on the 2-core test VM with both cores kept busy, a
// 10 s call counted from its first packet had p99 of |interval - 20 ms| at 2-13 ms and single
// intervals 24-37 ms off, all of them before the trigger fired. So before the first tick the
// session asks the kernel how busy the computer is (BusyNow), in two ways that cover each
// other's blind spots:
//
//   - CPU pressure (/proc/pressure/cpu, Linux 4.20+): the share of the last 10 s in which some
//     task was ready to run and waited for a CPU. It sees a build that comes and goes (compilers
//     start and end) but lags: it is an average, updated every 2 s.
//   - Tasks ready to run now (/proc/loadavg's fourth field), the smallest of a few readings a
//     millisecond apart: at least one per CPU besides the reader means every CPU is taken now.
//     It sees load that started a moment ago but not load that pauses.
//
// Either says busy: the call starts in the real-time class. Otherwise it starts in the ordinary
// one and media's rtTrigger still moves it when its ticks run late. On an idle computer the real-time
// class costs CPU and buys nothing (media/realtime.go), so it is not taken always.
const (
	// busyPressure is the CPU pressure (avg10, %) from which the computer counts as busy. An idle
	// desktop stays under 1-2 %; two spinning loops on the 2-core test VM give 40-50 %, a build
	// more.
	busyPressure = 10.0
	busyReadings = 3
	busyGap      = time.Millisecond
)

// BusyNow reports why the computer is busy now, or "" if it is not, or cannot tell. It reads
// two small files and sleeps about 2 ms: it is called once per call, before the first tick.
// Tests replace it.
var BusyNow = func() string {
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		if p, ok := pressureIn(b); ok && p >= busyPressure {
			return fmt.Sprintf("tasks waited for a CPU %.0f %% of the last 10 s", p)
		}
	}
	least := -1
	for i := range busyReadings {
		if i > 0 {
			time.Sleep(busyGap)
		}
		b, err := os.ReadFile("/proc/loadavg")
		if err != nil {
			return ""
		}
		n, ok := runnableIn(b)
		if !ok {
			return ""
		}
		if least < 0 || n < least {
			least = n
		}
	}
	// The reading thread is one of them.
	if cpus := runtime.NumCPU(); least-1 >= cpus {
		return fmt.Sprintf("%d other tasks were ready to run on %d CPUs", least-1, cpus)
	}
	return ""
}

// pressureIn returns the "some avg10" figure of a /proc/pressure/cpu text: the share of the last
// 10 s, in %, in which at least one task waited for a CPU.
func pressureIn(b []byte) (float64, bool) {
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) < 2 || string(f[0]) != "some" {
			continue
		}
		for _, kv := range f[1:] {
			if v, ok := bytes.CutPrefix(kv, []byte("avg10=")); ok {
				p, err := strconv.ParseFloat(string(v), 64)
				return p, err == nil
			}
		}
	}
	return 0, false
}

// runnableIn returns the number of tasks ready to run (running or waiting for a CPU) of a
// /proc/loadavg text: "0.15 0.12 0.05 2/118 1234", the part before the slash of the fourth field.
func runnableIn(b []byte) (int, bool) {
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0, false
	}
	run, _, ok := bytes.Cut(f[3], []byte("/"))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(run))
	return n, err == nil && n >= 0
}
