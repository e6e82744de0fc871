package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"trayphone/callmgr"
	"trayphone/control"
	"trayphone/internal/contacts"
	"trayphone/internal/paths"
	"trayphone/tray"
)

// runDesktop shows the running phone on the desktop until ctx is done or the user quits from the
// tray: the tray icon and menu when a tray host is there, otherwise (or with --headless)
// notifications only. Either way incoming calls, missed calls and registration failures notify,
// naming callers from book as it is at the time. It returns when ctx is done or the user picked
// Quit; the caller then shuts the core down.
func runDesktop(ctx context.Context, headless bool, p paths.Paths, mgr *callmgr.Manager, book *addressBook, scr *screener, msgs *messages, log *slog.Logger) {
	ctl := screeningController{desktopController{trayController: trayController{mgr: mgr}, book: book}, scr, msgs} // app_screen.go
	notifyOnly := func() {
		events, unsubscribe := mgr.Subscribe()
		defer unsubscribe()
		names := func(uri string) string { return tray.NamesFrom(ctl.Favorites(), book.Name)(uri) }
		tray.Notifications(ctx, ctl, events, names, log.With("component", "notify"))
		<-ctx.Done()
	}
	switch {
	case headless:
		log.Info("running headless")
		notifyOnly()
	case !tray.Available():
		log.Info("no system tray found: running headless; drive trayphone with its commands (trayphone help)")
		notifyOnly()
	default:
		err := tray.Run(ctx, ctl, tray.Options{
			ConfigPath:    p.Config,
			EchoTestURI:   callmgr.EchoTarget,
			Logger:        log.With("component", "tray"),
			Names:         book.Name,
			Refresh:       book.changed,
			PrepareConfig: func() error { return ensureConfig(p.Config) },
		})
		if err != nil {
			log.Error("tray stopped", "error", err)
		}
	}
}

// addressBook is the imported contacts as the running phone knows them: read at start, and again
// on the control command "contacts.reload" that "trayphone contacts import" sends. A reload
// replaces the whole book, so a lookup from any goroutine sees the old one or the new one.
type addressBook struct {
	dir     string // the state directory holding contacts.FileName
	log     *slog.Logger
	cur     atomic.Pointer[contacts.Book]
	changed chan struct{} // one pending signal: the tray rebuilds its menu after a reload
}

// loadContacts reads the address book in p.State (an unreadable one is logged and used empty)
// and adds the "contacts.reload" control command.
func loadContacts(p paths.Paths, ctl *control.Server, log *slog.Logger) *addressBook {
	b := &addressBook{dir: p.State, log: log, changed: make(chan struct{}, 1)}
	if _, err := b.reload(); err != nil {
		log.Warn("contacts not loaded; callers are shown by address", "error", err)
		b.cur.Store(&contacts.Book{})
	}
	ctl.Handle("contacts.reload", func(context.Context, json.RawMessage) (any, error) {
		book, err := b.reload()
		if err != nil {
			return nil, err // the book in use stays
		}
		log.Info("contacts reloaded", "contacts", len(book.Contacts), "favorites", len(book.Favorites()))
		return contactsReloaded{Contacts: len(book.Contacts), Favorites: len(book.Favorites())}, nil
	})
	return b
}

// contactsReloaded is the answer to "contacts.reload".
type contactsReloaded struct {
	Contacts  int `json:"contacts"`
	Favorites int `json:"favorites"`
}

// reload reads the book from disk and makes it the current one; on error the current one stays.
func (b *addressBook) reload() (*contacts.Book, error) {
	book, err := contacts.Load(b.dir)
	if err != nil {
		return nil, err
	}
	b.cur.Store(book)
	select {
	case b.changed <- struct{}{}:
	default: // a rebuild is already pending
	}
	return book, nil
}

// Book returns the current address book; never nil.
func (b *addressBook) Book() *contacts.Book { return b.cur.Load() }

// Name names uri from the current address book, or returns "".
func (b *addressBook) Name(uri string) string { return b.Book().Name(uri) }

// desktopController is the tray's controller: the call manager plus the imported contacts, whose
// favorites follow the config's in the Favorites submenu.
type desktopController struct {
	trayController
	book *addressBook
}

// Favorites returns the config's favorites (sorted by name), then the favorite contacts whose
// address is not already there.
func (c desktopController) Favorites() []tray.Favorite {
	out := c.trayController.Favorites()
	seen := map[string]bool{}
	for _, f := range out {
		seen[strings.ToLower(f.URI)] = true
	}
	for _, ct := range c.book.Book().Favorites() {
		uri := ct.DialTarget()
		if seen[strings.ToLower(uri)] {
			continue
		}
		seen[strings.ToLower(uri)] = true
		out = append(out, tray.Favorite{Name: ct.Name, URI: uri})
	}
	return out
}

// defaultConfig is the commented settings file "Open config" creates when there is none. Its
// values are config.Default(); a test checks that it loads.
const defaultConfig = `# trayphone settings. Changes take effect the next time trayphone starts.
# Every setting is optional; the values shown are the defaults.

# Do not disturb: reject incoming calls as busy.
dnd = false

[sip]
# Address and port for SIP over UDP and TCP; when the port is taken the next free one is used.
listen = "0.0.0.0:5060"
# The user part of your address for direct calls (default: your login name).
# user = "alice"
# display_name = "Alice Example"
# Accept calls that do not come through a registrar (default: only while no account is set up).
# allow_direct_calls = true
# Seconds an incoming call rings before it is ended as missed (480 for the caller).
# ring_timeout = 60
# Encrypted audio (SRTP with SDES keys): "off", "optional" (encrypt when the far end can) or
# "required" (refuse calls that are not encrypted). Also settable per [[account]].
# media_encryption = "optional"
# SRTP keys travel in the SIP messages: by default only over TLS (an account with
# transport = "tls"). Allow them over UDP/TCP, where anyone on the path can read them:
# sdes_over_udp = false

[audio]
# "default", "null", "portaudio:NAME" (see "trayphone devices") or a .wav file.
input = "default"
output = "default"
ringer = "default"
# Codecs in order of preference.
codecs = ["opus", "G722", "PCMU", "PCMA"]

# Favorites appear in the tray's Favorites menu and can be called by name ("trayphone call bob");
# a name with spaces is quoted: "Front desk" = "sip:desk@192.168.1.21" ("trayphone call 'Front desk'").
# Contacts imported with "trayphone contacts import FILE.vcf" that are starred or in a
# "Favorites" category are added after these.
[favorites]
# bob = "sip:bob@192.168.1.20"

# A SIP account to register with. Its password lives in the keyring, never in this file.
# [[account]]
# id = "work"
# aor = "sip:alice@sip.example.com"
# registrar = "sip:sip.example.com"
# transport = "udp"
# media_encryption = "optional"
`

// ensureConfig creates the commented default settings file at path (0600, directory 0700) unless
// a file is already there.
func ensureConfig(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create settings: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil // created meanwhile
	}
	if err != nil {
		return fmt.Errorf("create settings: %w", err)
	}
	if _, err := f.WriteString(defaultConfig); err != nil {
		_ = f.Close()
		return fmt.Errorf("create settings %s: %w", path, err)
	}
	return f.Close()
}
