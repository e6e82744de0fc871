// Package bench holds trayphone's benchmark harness: the comparison with baresip that
// bench/run.sh runs (bench_test.go, gated by TRAYPHONE_BENCH=1) and the helpers it measures with.
package bench

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ThreadStats sums over the live threads of process pid the time they have run on a CPU
// (/proc/PID/task/TID/schedstat, nanoseconds, unlike the 10 ms ticks of /proc/PID/stat) and
// their context switches, voluntary and not (/proc/PID/task/TID/status). Threads that have
// exited no longer count; the processes measured here keep theirs for the whole call.
func ThreadStats(pid int) (cpu time.Duration, switches int64, err error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", pid))
	if err != nil || len(tasks) == 0 {
		return 0, 0, fmt.Errorf("process %d: no threads found", pid)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(task, "schedstat"))
		if err != nil {
			continue // the thread just exited
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(ns)
		}
		st, err := os.ReadFile(filepath.Join(task, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				switches += n
			}
		}
	}
	return cpu, switches, nil
}

// Median returns the middle value of xs (the mean of the two middle ones for an even count),
// sorting a copy; NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	if n := len(c); n%2 == 0 {
		return (c[n/2-1] + c[n/2]) / 2
	}
	return c[len(c)/2]
}

// Memory is what /proc/PID/status says of a process's resident memory, in KiB.
type Memory struct {
	RSS  int // resident set size: anonymous memory plus the pages of the binary and libraries in use
	Anon int // anonymous resident memory: heap, stacks, the process's own data; not shared
	HWM  int // the RSS high-water mark
}

// RSS returns the resident memory of process pid.
func RSS(pid int) (m Memory, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			m.RSS = n
		case "RssAnon":
			m.Anon = n
		case "VmHWM":
			m.HWM = n
		}
	}
	return m, sc.Err()
}

// UDPPorts returns the local UDP ports of the sockets process pid holds (IPv4 and IPv6).
func UDPPorts(pid int) ([]int, error) {
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, tab := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(tab)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			p, err := strconv.ParseInt(hexPort, 16, 32)
			if err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports), nil
}

// FindPID returns the process whose command line contains every one of words, or 0.
func FindPID(words ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		all := true
		for _, w := range words {
			all = all && strings.Contains(cmd, w)
		}
		if all {
			pid, _ := strconv.Atoi(filepath.Base(d))
			if pid != os.Getpid() {
				return pid
			}
		}
	}
	return 0
}

// Percentiles returns the p50, p99 and maximum of xs (sorted in place).
func Percentiles(xs []float64) (p50, p99, maxV float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	slices.Sort(xs)
	at := func(q float64) float64 { return xs[min(len(xs)-1, int(q*float64(len(xs))))] }
	return at(0.5), at(0.99), xs[len(xs)-1]
}

// SendJitter returns, for packets sent at the given times, the absolute deviations of the
// intervals between them from the nominal period, in milliseconds.
func SendJitter(at []float64, period time.Duration) []float64 {
	nominal := period.Seconds() * 1000
	var out []float64
	for i := 1; i < len(at); i++ {
		out = append(out, math.Abs((at[i]-at[i-1])*1000-nominal))
	}
	return out
}

// Together counts the intervals of the packet stream at (send times, seconds) that deviate from
// period by more than over, and how many of them end within window of such an interval of the
// stream other. Two processes' streams late at the same moment point at the machine (both CPUs
// held up at once, e.g. the host pausing a virtual machine), not at either process.
func Together(at, other []float64, period, over, window time.Duration) (late, together int) {
	nominal, limit, win := period.Seconds(), over.Seconds(), window.Seconds()
	var marks []float64 // end times of other's deviating intervals, in order
	for i := 1; i < len(other); i++ {
		if math.Abs(other[i]-other[i-1]-nominal) > limit {
			marks = append(marks, other[i])
		}
	}
	j := 0
	for i := 1; i < len(at); i++ {
		if math.Abs(at[i]-at[i-1]-nominal) <= limit {
			continue
		}
		late++
		for j < len(marks) && marks[j] < at[i]-win {
			j++
		}
		if j < len(marks) && marks[j] <= at[i]+win {
			together++
		}
	}
	return late, together
}
