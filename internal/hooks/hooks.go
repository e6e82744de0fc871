// Package hooks runs the user's programs on call events ([hooks] in the config): a CRM lookup
// when a call rings, a desk lamp while a call is answered, a log line when one is missed.
//
// A hook is an argv list, never a shell string: what a caller controls (their address, their
// display name) reaches the program only through its environment (TRAYPHONE_REMOTE,
// TRAYPHONE_NAME, ...), never through its command line, so nothing a caller sends can become
// code. Each run has a time limit, after which its whole process group is killed; its output is
// kept only in its last few KB, for the log. The runner is a client of the core's event stream:
// it never blocks the phone (events only start runs on a bounded pool; when it is full the run
// is dropped and logged), and a hook that keeps failing is logged once per burst of failures,
// not once per call.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"trayphone/internal/phone"
)

// Hook events: the names of the [hooks] keys and the values of TRAYPHONE_EVENT.
const (
	Incoming = "incoming" // a call rings here
	Answered = "answered" // a call was answered, either direction
	Ended    = "ended"    // a call ended, unless it was a missed incoming one (TRAYPHONE_RESULT says how)
	Missed   = "missed"   // an incoming call ended unanswered
	// Message is a message left on the answering machine: its phone.EventVoicemail (the
	// message, with the caller and the file) runs this hook with TRAYPHONE_FILE set; without a
	// call snapshot in the event TRAYPHONE_CALL_ID is the message's ID.
	Message = "message"
)

// Defaults.
const (
	// DefaultTimeout is how long a hook may run when the config does not say.
	DefaultTimeout = 10 * time.Second
	// MaxRunning is how many hooks run at once; MaxQueued more wait for a slot. Beyond that a
	// hook run is dropped (and logged): a flood of calls cannot make the phone start a flood of
	// processes.
	MaxRunning = 4
	MaxQueued  = 32
	// OutputTail is how much of a hook's output (stdout and stderr together) is kept for the
	// log: the last OutputTail bytes, however much it prints.
	OutputTail = 4 << 10
	// killGrace is how long a killed hook's output pipes may stay open (a grandchild that left
	// the group holds them) before the runner stops waiting for them.
	killGrace = time.Second
	// failureQuiet is how long a hook that keeps failing stays quiet in the log before its
	// count of failures is logged again.
	failureQuiet = 10 * time.Minute
)

// Config is what the runner runs: an argv per hook event (nil or empty: none), and the time
// limit of each run (0: DefaultTimeout).
type Config struct {
	Commands map[string][]string
	Timeout  time.Duration
}

// Runner runs hooks for the events of the core's stream. Create it with New and run Serve.
type Runner struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	slots chan struct{} // one per running hook
	queue chan run      // runs waiting for a slot

	mu      sync.Mutex
	health  map[string]*health // by hook event
	dropped int                // runs dropped since the last log line about it

	wg sync.WaitGroup // running hooks
}

// run is one hook run waiting to start.
type run struct {
	event string
	argv  []string
	env   []string
}

// health is one hook's failure streak, for logging once per burst.
type health struct {
	failing    bool
	suppressed int       // failures not logged since the last line
	loggedAt   time.Time // the last failure line
}

// New returns a runner for cfg logging to log.
func New(cfg Config, log *slog.Logger) *Runner {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		cfg:    cfg,
		log:    log.With("component", "hooks"),
		now:    time.Now,
		slots:  make(chan struct{}, MaxRunning),
		queue:  make(chan run, MaxQueued),
		health: map[string]*health{},
	}
}

// Any reports whether any hook is configured.
func (r *Runner) Any() bool {
	for _, argv := range r.cfg.Commands {
		if len(argv) > 0 {
			return true
		}
	}
	return false
}

// Serve turns the events of the stream into hook runs until ctx is done or the stream closes.
// It never waits for a hook: runs start on goroutines of their own, at most MaxRunning at once.
// When it returns, hooks still running are killed and waited for (each within its time limit
// and killGrace).
func (r *Runner) Serve(ctx context.Context, events <-chan phone.Event) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel() // kills what runs
		r.wg.Wait()
	}()
	r.wg.Add(1)
	go func() {
		// Starts queued runs as slots free up; returns when ctx is done.
		defer r.wg.Done()
		r.starter(ctx)
	}()
	t := newTracker()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			for _, hr := range t.hooksFor(ev) {
				r.Fire(hr.event, hr.call, hr.file)
			}
		}
	}
}

// Fire queues hook event for call c (file is the message's file, for Message). It never blocks:
// when the queue is full the run is dropped and that is logged (once per burst).
func (r *Runner) Fire(event string, c phone.CallInfo, file string) {
	argv := r.cfg.Commands[event]
	if len(argv) == 0 {
		return
	}
	rn := run{event: event, argv: argv, env: Env(event, c, file)}
	select {
	case r.queue <- rn:
	default:
		r.mu.Lock()
		r.dropped++
		n := r.dropped
		r.mu.Unlock()
		if n == 1 {
			r.log.Warn("too many hooks at once; this one is not run", "hook", event, "running", MaxRunning, "waiting", MaxQueued)
		}
	}
}

// starter starts queued runs, at most MaxRunning at once, until ctx is done.
func (r *Runner) starter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case rn := <-r.queue:
			select {
			case r.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			r.mu.Lock()
			if r.dropped > 1 {
				r.log.Warn("hooks were dropped: too many at once", "dropped", r.dropped)
			}
			r.dropped = 0
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				// Returns when the hook has exited or was killed at its time limit.
				defer r.wg.Done()
				defer func() { <-r.slots }()
				r.runOne(ctx, rn)
			}()
		}
	}
}

// Env is the environment of hook event for call c on top of the phone's own (TRAYPHONE_*
// variables of the phone's environment are replaced). Caller-controlled text is passed as it
// is, less NUL bytes, which an environment cannot hold.
func Env(event string, c phone.CallInfo, file string) []string {
	clean := func(s string) string { return strings.ReplaceAll(s, "\x00", "") }
	vars := []string{
		"TRAYPHONE_EVENT=" + event,
		"TRAYPHONE_CALL_ID=" + clean(c.ID),
		"TRAYPHONE_REMOTE=" + clean(c.Remote),
		"TRAYPHONE_NAME=" + clean(c.RemoteName),
		"TRAYPHONE_DIRECTION=" + c.Direction.String(),
		"TRAYPHONE_ACCOUNT=" + clean(c.Account),
	}
	if event == Ended || event == Missed {
		vars = append(vars, "TRAYPHONE_RESULT="+clean(c.Result),
			"TRAYPHONE_DURATION="+strconv.Itoa(int(c.Duration)))
	}
	if file != "" {
		vars = append(vars, "TRAYPHONE_FILE="+clean(file))
	}
	env := make([]string, 0, len(os.Environ())+len(vars))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRAYPHONE_") {
			env = append(env, kv)
		}
	}
	return append(env, vars...)
}

// runOne runs one hook to its end or its time limit and logs how it went.
func (r *Runner) runOne(ctx context.Context, rn run) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	out := &tail{}
	cmd := exec.CommandContext(ctx, rn.argv[0], rn.argv[1:]...)
	cmd.Env = rn.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = killGrace
	ownGroup(cmd) // proc_*.go: the hook and its children in a process group of their own
	start := r.now()
	err := cmd.Run()
	took := r.now().Sub(start)
	switch {
	case err == nil:
		r.succeeded(rn.event, took, out)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.failed(rn.event, fmt.Sprintf("killed after %s: it ran past its time limit (hooks timeout)", r.cfg.Timeout), out)
	case ctx.Err() != nil:
		r.log.Info("hook stopped: the phone is quitting", "hook", rn.event)
	case cmd.ProcessState == nil:
		r.failed(rn.event, fmt.Sprintf("cannot run %q: %v", rn.argv[0], err), out)
	default:
		r.failed(rn.event, fmt.Sprintf("%q %v", rn.argv[0], err), out)
	}
}

// succeeded logs a hook that ran well, and that it works again if it had been failing.
func (r *Runner) succeeded(event string, took time.Duration, out *tail) {
	r.mu.Lock()
	h := r.healthOf(event)
	was, n := h.failing, h.suppressed
	h.failing, h.suppressed = false, 0
	r.mu.Unlock()
	if was {
		r.log.Info("hook works again", "hook", event, "failures_not_logged", n)
	}
	r.log.Debug("hook ran", "hook", event, "took", took.Round(time.Millisecond), "output", out.String())
}

// failed logs a hook's failure: the first of a burst with its reason and output, later ones of
// the same burst only counted, and again after failureQuiet with the count.
func (r *Runner) failed(event, why string, out *tail) {
	r.mu.Lock()
	h := r.healthOf(event)
	now := r.now()
	logIt := !h.failing || now.Sub(h.loggedAt) >= failureQuiet
	n := h.suppressed
	if logIt {
		h.failing, h.suppressed, h.loggedAt = true, 0, now
	} else {
		h.suppressed++
	}
	r.mu.Unlock()
	if !logIt {
		return
	}
	args := []any{"hook", event, "why", why, "output", out.String()}
	if n > 0 {
		args = append(args, "failures_not_logged", n)
	}
	r.log.Warn("hook failed; the phone goes on (further failures of this hook are not logged until it works again)", args...)
}

func (r *Runner) healthOf(event string) *health {
	h := r.health[event]
	if h == nil {
		h = &health{}
		r.health[event] = h
	}
	return h
}

// tail keeps the last OutputTail bytes written to it, in a fixed buffer: a hook printing
// megabytes costs no memory.
type tail struct {
	mu    sync.Mutex
	buf   [OutputTail]byte
	n     int   // bytes held, up to OutputTail
	next  int   // where the next byte goes
	total int64 // bytes written in all
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	q := p
	if len(q) > OutputTail {
		q = q[len(q)-OutputTail:]
	}
	for len(q) > 0 {
		c := copy(t.buf[t.next:], q)
		q = q[c:]
		t.next = (t.next + c) % OutputTail
		t.n = min(OutputTail, t.n+c)
	}
	return len(p), nil
}

// String is the output kept, with how much was cut off before it.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var kept []byte
	if t.n < OutputTail {
		kept = t.buf[:t.n]
	} else {
		kept = append(append([]byte(nil), t.buf[t.next:]...), t.buf[:t.next]...)
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(kept), "?"))
	if cut := t.total - int64(t.n); cut > 0 {
		s = fmt.Sprintf("[%d bytes before this cut] %s", cut, s)
	}
	return s
}
