package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/internal/config"
	"trayphone/internal/history"
	"trayphone/internal/paths"
	"trayphone/internal/phone"
	"trayphone/internal/sipua"
	"trayphone/media"
	"trayphone/media/portaudio"
	"trayphone/nat"
	"trayphone/tray"
)

// appServerMaxCalls is how many calls an application server takes at once unless --max-calls
// says otherwise.
const appServerMaxCalls = 100

// shutdownTimeout bounds the whole shutdown: hang up, close listeners, close audio.
const shutdownTimeout = 5 * time.Second

// runPhone runs the phone until the user quits (tray) or a signal arrives, then shuts down in
// order: calls are hung up, then SIP listeners close, then audio.
func runPhone(o options, p paths.Paths, stderr io.Writer) int {
	log := newLogger(stderr, o.logLevel)
	cfg, err := config.Load(p.Config, config.LoadOptions{KnownCodecs: codecNames()})
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 2
	}
	if o.listen != "" {
		cfg.SIP.Listen = o.listen
	}
	if o.audioIn != "" {
		cfg.Audio.Input = o.audioIn
	}
	if o.audioOut != "" {
		cfg.Audio.Output = o.audioOut
	}
	maxCalls := o.maxCalls
	if o.appServer {
		// The voice apps give the calls their sound: no sound card is opened per call.
		if o.audioIn == "" {
			cfg.Audio.Input = "null"
		}
		if o.audioOut == "" {
			cfg.Audio.Output = "null"
		}
		if maxCalls <= 0 {
			maxCalls = appServerMaxCalls
		}
	}
	media.UseSoundCard(portaudio.SoundCard{}) // "default" and "portaudio:NAME" devices, here and in callmgr
	dev, err := media.NewDevice(cfg.Audio.Input, cfg.Audio.Output, log.With("component", "audio"))
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: audio: %v\n", err)
		return 2
	}
	dev = media.WithSoundCardProcessing(dev, media.ProcessingOptions{EchoCancel: cfg.Audio.EchoCancel, NoiseSuppression: cfg.Audio.NoiseSuppression, AGC: cfg.Audio.AGC})
	// Where a call goes when its device disappears mid-call; why it cannot, said when it would.
	def, err := media.NewDevice("default", "default", log.With("component", "audio"))
	if err != nil {
		def = media.NewUnavailable("default", err)
	}
	if why := media.ProcessingMissing(); why != "" && (cfg.Audio.EchoCancel || cfg.Audio.NoiseSuppression || cfg.Audio.AGC) {
		log.Warn("audio processing not available", "why", why)
	}
	codecs, err := codecsFor(cfg.Audio.Codecs, log)
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 2
	}
	acc := setupAccounts(cfg, p, log)                                               // app_accounts.go
	natp := nat.NewTraversal(natConfig(cfg, acc.secrets, registrarViews(acc), log)) // app_nat.go
	ua, err := sipua.New(sipua.Config{Listen: cfg.SIP.Listen, User: cfg.UserOrLogin(), DisplayName: cfg.SIP.DisplayName, TLS: acc.TLS(), Log: log,
		Intercept: natp.Intercept})
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	defer ua.Close()
	hist, err := history.Open(p.State, log.With("component", "history"))
	if err != nil {
		log.Warn("the call history cannot be read; this session's calls are kept in memory only", "err", err)
	}
	defer hist.Close()                                                      // after the manager has filed its last call
	scr, err := newScreener(p.Config, cfg, log.With("component", "screen")) // app_screen.go
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 2
	}
	var mgr *callmgr.Manager
	vm, err := setupVoicemail(cfg, p, func(msg phone.VoicemailMessage) {
		mgr.Announce(phone.Event{Type: phone.EventVoicemail, Voicemail: &msg})
	}, log.With("component", "voicemail"))
	if err != nil {
		log.Warn("no answering machine", "err", err)
	}
	vmAfter := time.Duration(0)
	if cfg.Voicemail.Enabled {
		vmAfter = time.Duration(cfg.Voicemail.AnswerAfterOrDefault()) * time.Second
	}
	accts := acc.Attach(ua)
	pres, watched := acc.Subscriptions(ua, cfg.Favorites) // app_accounts.go: MWI and BLF
	mgr, err = callmgr.New(callmgr.Config{
		Presence: pres, Watched: watched,
		Screen: scr, Voicemail: voicemailFor(vm), VoicemailAfter: vmAfter, TransferScreen: scr.transferAllowed,
		History: hist,
		UA:      ua, Device: dev, DefaultDevice: def, Codecs: codecs, NoVAD: !cfg.Audio.VAD, Realtime: cfg.Audio.Realtime, SteadySend: cfg.Audio.SteadySend, Favorites: cfg.Favorites, DND: cfg.DND,
		CallWaiting: true, AppServer: o.appServer, MaxCalls: maxCalls, ToneRegion: cfg.Audio.ToneRegion, Log: log, Accounts: accts, RejectDirectCalls: !cfg.DirectCallsAllowed(),
		NAT: callNAT(natp), IncomingRingTimeout: time.Duration(cfg.SIP.RingTimeout) * time.Second,
		MediaEncryption: cfg.SIP.MediaEncryption, AccountEncryption: accountEncryption(cfg), SDESOverUDP: cfg.SIP.SDESOverUDP,
		RecordDir: filepath.Join(p.State, "recordings"), RecordCalls: cfg.Audio.RecordCalls,
		Forward: phone.Forward{Mode: cfg.Forward.Mode, Target: cfg.Forward.Target, After: phone.Seconds(cfg.Forward.After)},
		AutoAnswer: callmgr.AutoAnswer{Accounts: cfg.AutoAnswer.Accounts, Callers: cfg.AutoAnswer.Callers,
			After: time.Duration(cfg.AutoAnswer.After) * time.Second, Intercom: cfg.AutoAnswer.Intercom},
		DTLSCertificate: dtlsCertificate(acc.secrets, log), // app_accounts.go
	})
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	if cfg.SIP.SDESOverUDP {
		log.Warn("sdes_over_udp is on: SRTP keys may travel in SIP messages that are not encrypted, where anyone on the path can read them")
	}
	ctl, err := control.NewServer(p.Socket, natCore{Core: mgr, nat: natp}, log.With("component", "control"))
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	ctl.Handle("conference", callmgr.ConferenceCommand(mgr))
	ctl.Handle("history", callmgr.HistoryCommand(mgr))
	ctl.Handle("redial", callmgr.RedialCommand(mgr))
	ctl.Handle("record", callmgr.RecordCommand(mgr))
	ctl.Handle("forward", callmgr.ForwardCommand(mgr))
	ctl.Handle("transfer", callmgr.TransferCommand(mgr))
	control.HandleDTMF(ctl, mgr)
	ctl.Handle("voicemail", callmgr.VoicemailCommand(mgr))
	ctl.Handle("play", callmgr.PlayCommand(mgr))            // voice apps: play, say
	ctl.Handle("record-far", callmgr.RecordFarCommand(mgr)) // voice apps
	scr.register(ctl)                                       // app_screen.go: screen.list, screen.test, screen.reload, screen.block
	var msgs *messages
	if vm != nil {
		msgs = &messages{m: vm, dev: dev, status: mgr.Status, log: log.With("component", "voicemail")}
		msgs.register(ctl) // messages, messages.play, messages.delete
		defer msgs.stop()
	}
	book := loadContacts(p, ctl, log) // app_tray.go; "contacts.reload"
	scr.book.Store(book)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Before SIP serves: calls read what Start sets. Its goroutines end with ctx.
	natp.Start(ctx, nat.SIPSocket{Port: ua.Port, Send: ua.SendUDP}, nat.Hooks{OnChange: acc.NetworkChanged, AfterChange: mgr.NetworkChanged})
	if err := ua.Start(); err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	// SIGHUP is the end of the desktop session (logout): shut down like SIGTERM, un-REGISTERing,
	// instead of dying at once with the bindings left at the registrars.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		// Exits with the process: the first signal starts the shutdown, a second one ends it now.
		sig := <-sigs
		log.Info("shutting down (press Ctrl-C again to quit at once)", "signal", sig.String())
		cancel()
		<-sigs
		os.Exit(130)
	}()

	go func() { _ = mgr.Run(ctx) }()
	// app_hooks.go: [hooks]
	waitHooks := startHooks(ctx, cfg, mgr, log)
	go callmgr.PlayTones(ctx, mgr, callmgr.ToneConfigFor(dev, cfg.Audio.Ringer, cfg.Audio.ToneRegion, cfg.Audio.Ringtone, log)) // returns when ctx is done
	acc.Run(ctx, mgr, ctl)                                                                                                      // registers until ctx is done, then un-REGISTERs
	links := newLinkDialer(mgr, book, log.With("component", "link"))                                                            // app_link.go; "call.link"
	links.register(ctl)
	ctlDone := make(chan struct{})
	go func() { _ = ctl.Serve(ctx); close(ctlDone) }()
	log.Info("trayphone is ready", "address", ua.AOR(), "transports", "udp,tcp", "config", p.Config, "control", p.Socket)
	if o.dial != "" {
		go func() {
			// A link that started the phone: dialled or confirmed like any other link.
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			if _, err := links.handle(cctx, o.dial); err != nil {
				log.Error("could not dial", "target", o.dial, "error", err)
			}
		}()
	}

	if o.appServer {
		log.Info("running as a voice application server", "max_calls", maxCalls)
		<-ctx.Done()
	} else {
		runDesktop(ctx, o.headless, p, mgr, book, scr, msgs, log) // tray or notifications; app_tray.go
	}

	cancel()
	select {
	case <-mgr.Done():
	case <-time.After(shutdownTimeout):
		log.Warn("calls did not hang up in time; quitting anyway")
	}
	<-ctlDone
	waitHooks()
	acc.Wait()
	natp.Wait() // router port mappings removed
	ua.Close()
	log.Info("trayphone stopped")
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func codecNames() []string {
	var out []string
	for _, c := range media.Codecs() {
		out = append(out, c.Name)
	}
	return out
}

// codecsFor resolves the config's codec names. A codec this build lacks (a leaf codec package
// built without its C library, leaves.go) is left out with a warning that says why; the call
// fails only if nothing is left.
func codecsFor(names []string, log *slog.Logger) ([]media.Codec, error) {
	var out []media.Codec
	for _, n := range names {
		c, ok := media.CodecByName(n)
		if why, missing := media.MissingCodec(n); !ok && missing {
			log.Warn("codec not offered", "codec", n, "why", why)
			continue
		}
		if !ok {
			return nil, fmt.Errorf("unknown codec %q (supported: %s)", n, strings.Join(codecNames(), ", "))
		}
		out = append(out, c)
	}
	if len(out) == 0 && len(names) > 0 {
		return nil, fmt.Errorf("none of the codecs %s is in this build (supported: %s)", strings.Join(names, ", "), strings.Join(codecNames(), ", "))
	}
	return out, nil
}

// trayController adapts the call manager to what the tray needs.
type trayController struct{ mgr *callmgr.Manager }

func (c trayController) Call(ctx context.Context, target string) error {
	_, err := c.mgr.Call(ctx, target, "")
	return err
}
func (c trayController) Answer(ctx context.Context, id string) error { return c.mgr.Answer(ctx, id) }
func (c trayController) Hangup(ctx context.Context, id string) error { return c.mgr.Hangup(ctx, id) }
func (c trayController) Hold(ctx context.Context, id string) error   { return c.mgr.Hold(ctx, id) }
func (c trayController) Resume(ctx context.Context, id string) error { return c.mgr.Resume(ctx, id) }
func (c trayController) Transfer(ctx context.Context, id, target, consult string) error {
	_, err := c.mgr.Transfer(ctx, id, target, consult)
	return err
}
func (c trayController) Mute(ctx context.Context, id string, on bool) error {
	return c.mgr.Mute(ctx, id, on)
}
func (c trayController) Record(ctx context.Context, id string, on bool) error {
	_, err := c.mgr.Record(ctx, id, on)
	return err
}
func (c trayController) SetForward(ctx context.Context, f phone.Forward) error {
	_, err := c.mgr.SetForward(ctx, f)
	return err
}
func (c trayController) SetDND(ctx context.Context, on bool) error { return c.mgr.SetDND(ctx, on) }
func (c trayController) Status() phone.Status                      { return c.mgr.Status() }
func (c trayController) Subscribe() (<-chan phone.Event, func())   { return c.mgr.Subscribe() }
func (c trayController) Recent() []phone.HistoryEntry              { return c.mgr.History() }
func (c trayController) MarkMissedSeen()                           { c.mgr.MarkMissedSeen() }
func (c trayController) SendDTMF(ctx context.Context, id, digits string) error {
	return c.mgr.SendDTMF(ctx, id, digits)
}
func (c trayController) Favorites() []tray.Favorite {
	var out []tray.Favorite
	for name, uri := range c.mgr.Favorites() {
		out = append(out, tray.Favorite{Name: name, URI: uri})
	}
	slices.SortFunc(out, func(a, b tray.Favorite) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// accountEncryption maps each account that sets media_encryption to its mode.
func accountEncryption(cfg *config.Config) map[string]string {
	out := map[string]string{}
	for _, a := range cfg.Accounts {
		if a.MediaEncryption != "" {
			out[a.ID] = a.MediaEncryption
		}
	}
	return out
}
