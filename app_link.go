package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/tray"
)

// Clicked sip:, sips: and tel: links (issue 14). A web page can make the browser open one
// without the user meaning to call, and a tel: link through an account is a billable call: a link
// to a contact or favorite dials at once, any other one only after the user pressed Call on a
// notification (tray.ConfirmCall).

// linkCommand is the control command "trayphone URI" sends to the running phone.
const linkCommand = "call.link"

// linkResult is the answer to linkCommand.
type linkResult struct {
	// Dialled is true when the target was known and the call was placed; otherwise the user
	// is being asked.
	Dialled bool `json:"dialled"`
}

// linkDialer places calls for clicked links.
type linkDialer struct {
	call  func(ctx context.Context, target string) error
	known func(uri string) string // the name of a favorite or contact, "" for a stranger
	ask   func(ctx context.Context, target, name string) (bool, error)
	log   *slog.Logger
}

func newLinkDialer(mgr *callmgr.Manager, book *addressBook, log *slog.Logger) *linkDialer {
	ctl := desktopController{trayController: trayController{mgr: mgr}, book: book}
	return &linkDialer{
		call:  ctl.Call,
		known: func(uri string) string { return tray.NamesFrom(ctl.Favorites(), book.Name)(uri) },
		ask: func(ctx context.Context, target, name string) (bool, error) {
			return tray.ConfirmCall(ctx, target, name, log)
		},
		log: log,
	}
}

// handle dials target at once when it is a contact or favorite; otherwise it asks the user in
// the background (the call follows a press on Call) and returns. Without a way to ask, it fails
// and says how to place the call by hand.
func (d *linkDialer) handle(ctx context.Context, target string) (linkResult, error) {
	if !isDialable(target) || strings.ContainsAny(target, " \t\r\n") {
		return linkResult{}, fmt.Errorf("%q is not a sip:, sips: or tel: link", target)
	}
	if d.known(target) != "" {
		err := d.call(ctx, target)
		return linkResult{Dialled: err == nil}, err
	}
	confirmed := make(chan error, 1)
	go func() {
		// Ends when the user answered the notification (or it timed out).
		actx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ok, err := d.ask(actx, target, "")
		switch {
		case errors.Is(err, tray.ErrNoConfirm):
			confirmed <- err
			return
		case err != nil || !ok:
			confirmed <- nil
			d.log.Info("call from a link not confirmed", "target", target)
			return
		}
		confirmed <- nil
		if err := d.call(actx, target); err != nil {
			d.log.Error("could not dial", "target", target, "error", err)
		}
	}()
	select {
	case err := <-confirmed:
		if err != nil {
			return linkResult{}, fmt.Errorf("a link to %s needs your confirmation and there is no notification with buttons to ask it; call it with \"trayphone call %s\"", target, target)
		}
	case <-time.After(500 * time.Millisecond): // the notification is up: the user decides
	case <-ctx.Done():
	}
	return linkResult{}, nil
}

// register adds linkCommand to the control server.
func (d *linkDialer) register(ctl *control.Server) {
	ctl.Handle(linkCommand, func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args struct {
			Target string `json:"target"`
		}
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, fmt.Errorf("%s: %v", linkCommand, err)
		}
		return d.handle(ctx, args.Target)
	})
}

// checkLinkArgs enforces that a link on the command line is the one last argument: a crafted
// link must not smuggle flags (--home on a network share, --listen) into the command line a
// desktop's "%1"/"%u" handler builds. Flags before the link come from the handler's own entry. A
// URI anywhere after a client command ("trayphone call sip:... --home DIR", "trayphone transfer 1
// sip:... --json") is that command's argument, not a link.
func checkLinkArgs(args []string) error {
	for i, a := range args {
		if a == "--" || control.IsClientCommand(a) {
			return nil
		}
		if isDialable(a) {
			if i != len(args)-1 {
				return fmt.Errorf("a link must be the last and only argument after the options; got %q after it", strings.Join(args[i+1:], " "))
			}
			if strings.ContainsAny(a, " \t\r\n\"") {
				return fmt.Errorf("%q is not a single link", a)
			}
		}
	}
	return nil
}
