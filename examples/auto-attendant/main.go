// Command auto-attendant answers every incoming call of a running trayphone, plays a greeting
// ("press 1 for sales, 2 for voicemail"), and on 1 transfers the caller to sales, on 2 (or when
// the caller presses nothing) hands the call to trayphone's answering machine. Any other key plays
// the greeting again.
//
// It drives trayphone only through its command line, as a program in any language could:
// "trayphone events --json" for incoming calls and the caller's keys, and "answer", "play",
// "say", "transfer", "voicemail" and "hangup" to act. It uses nothing but Go's standard library,
// so it can be copied and changed on its own. Each call is handled on a goroutine of its own, so
// one attendant serves many calls at once.
//
//	go build -o auto-attendant ./examples/auto-attendant
//	auto-attendant --sales sip:sales@192.168.1.31 [--greeting menu.wav] [--home DIR]
//
// Without --greeting, the greeting is spoken with "trayphone say" (espeak-ng). It runs until the
// phone stops or it is interrupted.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// event is the part of a "trayphone events --json" line the attendant reads.
type event struct {
	Type  string `json:"type"`
	Call  *call  `json:"call"`
	Digit string `json:"digit"`
	// Status is the first event: what the phone had when the stream began.
	Status *struct {
		Calls []call `json:"calls"`
	} `json:"status"`
}

type call struct {
	ID        string `json:"id"`
	Direction string `json:"direction"`
	Remote    string `json:"remote"`
	State     string `json:"state"`
	Voicemail bool   `json:"voicemail"`
}

// options are the attendant's settings, from its flags.
type options struct {
	trayphone string        // the trayphone program
	home      string        // --home of the phone, "" for the user's own
	greeting  string        // WAV file; "" to say greetingText
	sales     string        // where 1 transfers to
	timeout   time.Duration // how long to wait for a key after the greeting
	tries     int           // greetings before giving up on a key
}

const greetingText = "Thank you for calling. Press 1 for sales, 2 for voicemail."

func main() {
	var o options
	flag.StringVar(&o.trayphone, "trayphone", "trayphone", "the trayphone `program`")
	flag.StringVar(&o.home, "home", "", "the phone's home `DIR` (as trayphone --home)")
	flag.StringVar(&o.greeting, "greeting", "", "the greeting, a WAV `file` (default: spoken with trayphone say)")
	flag.StringVar(&o.sales, "sales", "", "where key 1 transfers the caller: a favorite, number or SIP `address`")
	flag.DurationVar(&o.timeout, "timeout", 8*time.Second, "how long to wait for a key after the greeting")
	flag.IntVar(&o.tries, "tries", 2, "how many times to play the greeting before taking a message")
	flag.Parse()
	if o.sales == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: auto-attendant --sales TARGET [--greeting FILE.wav] [--home DIR] [--timeout 8s]")
		os.Exit(2)
	}
	if o.greeting != "" {
		abs, err := filepath.Abs(o.greeting)
		if err != nil {
			log.Fatal(err)
		}
		o.greeting = abs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

// serve follows the phone's events and starts a handler for every incoming call. It returns when
// the event stream ends (the phone stopped) or ctx is done, after the handlers have returned.
func serve(ctx context.Context, o options) error {
	cmd := exec.CommandContext(ctx, o.trayphone, o.args("events", "--json")...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("follow the phone's events: %w", err)
	}
	log.Printf("auto-attendant: waiting for calls (sales: %s)", o.sales)

	var wg sync.WaitGroup
	calls := map[string]chan event{} // the handler of each call, by call ID
	start := func(c call) {
		if c.Direction != "incoming" || c.State != "incoming" || calls[c.ID] != nil {
			return
		}
		ch := make(chan event, 64)
		calls[c.ID] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.handle(ctx, c, ch)
		}()
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // a kind of line this version does not know
		}
		if ev.Status != nil {
			for _, c := range ev.Status.Calls {
				start(c)
			}
		}
		if ev.Call == nil {
			continue
		}
		start(*ev.Call)
		if ch := calls[ev.Call.ID]; ch != nil {
			select {
			case ch <- ev:
			default: // the handler is behind; it learns the call's end from its commands
			}
			if ev.Call.State == "ended" {
				close(ch)
				delete(calls, ev.Call.ID)
			}
		}
	}
	for id, ch := range calls {
		close(ch)
		delete(calls, id)
	}
	wg.Wait()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("the phone's events ended: %w", err)
	}
	return errors.New("the phone stopped")
}

// args puts --home in front of a trayphone command line when one was given.
func (o options) args(a ...string) []string {
	if o.home != "" {
		a = append(a, "--home", o.home)
	}
	return a
}

// run runs one trayphone command and returns its error with what it printed.
func (o options) run(ctx context.Context, a ...string) error {
	out, err := exec.CommandContext(ctx, o.trayphone, o.args(a...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("trayphone %s: %v: %s", strings.Join(a, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// handle runs one call: answer, greet, wait for a key, act. It returns when the call has been
// handed on (transfer, voicemail) or has ended; events are the call's events until it ends.
func (o options) handle(ctx context.Context, c call, events <-chan event) {
	id := c.ID
	logf := func(format string, a ...any) { log.Printf("call %s (%s): %s", id, c.Remote, fmt.Sprintf(format, a...)) }
	if err := o.run(ctx, "answer", id); err != nil {
		logf("could not answer: %v", err)
		return
	}
	logf("answered")
	for try := 0; try < o.tries; try++ {
		// The greeting plays on its own while keys are awaited; a key stops it.
		greeted := make(chan error, 1)
		go func() {
			if o.greeting != "" {
				greeted <- o.run(ctx, "play", id, o.greeting)
			} else {
				greeted <- o.run(ctx, "say", id, greetingText)
			}
		}()
		key, ok := o.waitKey(ctx, events, greeted)
		if !ok {
			logf("the call ended")
			return
		}
		switch key {
		case "1":
			logf("1: transfer to %s", o.sales)
			if err := o.run(ctx, "transfer", id, o.sales); err != nil {
				logf("%v", err)
				_ = o.run(ctx, "hangup", id)
			}
			return
		case "2", "":
			if key == "" && try < o.tries-1 {
				continue // no key: the greeting once more
			}
			logf("%q: to voicemail", key)
			if err := o.run(ctx, "voicemail", id); err != nil {
				logf("%v", err)
				_ = o.run(ctx, "hangup", id)
			}
			return
		default:
			logf("%s: not a choice; the greeting again", key)
			try-- // a wrong key does not use up a try
		}
	}
}

// waitKey waits for the caller's first key, stopping the greeting when one comes, or for the
// greeting to end and then timeout to pass ("" after the timeout). ok is false when the call
// ended.
func (o options) waitKey(ctx context.Context, events <-chan event, greeted <-chan error) (key string, ok bool) {
	var timer <-chan time.Time
	id := ""
	for {
		select {
		case ev, open := <-events:
			if !open {
				return "", false
			}
			id = ev.Call.ID
			if ev.Type == "dtmf" && ev.Digit != "" {
				if greeted != nil {
					_ = o.run(ctx, "play", id, "--stop")
					<-greeted
				}
				return ev.Digit, true
			}
		case err := <-greeted:
			greeted = nil
			if err != nil && strings.Contains(err.Error(), "ended") {
				return "", false
			}
			if err != nil {
				log.Printf("the greeting: %v", err)
			}
			timer = time.After(o.timeout)
		case <-timer:
			return "", true
		case <-ctx.Done():
			return "", false
		}
	}
}
