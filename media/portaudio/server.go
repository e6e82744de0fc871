//go:build cgo && (linux || windows) && !noportaudio

package portaudio

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jfreymuth/pulse/proto"
)

// On a PipeWire or PulseAudio desktop the real devices (a USB headset, the laptop speakers) are
// the sound server's sinks and sources, and the server holds the ALSA hardware. PortAudio reaches
// them only through the ALSA "pulse" plugin, so trayphone asks the server itself (its native
// protocol, which pipewire-pulse speaks too) which sinks and sources exist, routes a stream to one
// through the plugin's DEVICE argument (alsaopen.go), and watches the server so that a sink or
// source removed mid-call is reported like an unplugged card.

// serverTimeout bounds connecting to the sound server and each request to it.
const serverTimeout = time.Second

// serverPoll is how often an open stream on a sound-server device checks that the device is
// still there, besides the server's own removal events.
const serverPoll = time.Second

// serverDevice is a sink (output) or source (input) of the sound server.
type serverDevice struct {
	name, description string
	input             bool
	monitor           bool // a source that monitors a sink
	isDefault         bool
	channels, rate    int
}

// soundServer is a connection to a PulseAudio-protocol sound server.
type soundServer struct {
	conn net.Conn
	c    *proto.Client
	// changed receives a value (without blocking the reader) when a sink or source is removed or
	// the connection ends.
	changed chan struct{}
	closeMu sync.Mutex
	closed  bool
}

// errNoServer says no sound server is configured or listening.
var errNoServer = errors.New("no sound server")

// dialSoundServer connects to the sound server named by PULSE_SERVER or, without it, to the
// one in $XDG_RUNTIME_DIR/pulse/native. It gives up after serverTimeout per address.
func dialSoundServer() (*soundServer, error) {
	var addrs []serverAddr
	if s, ok := os.LookupEnv("PULSE_SERVER"); ok {
		host, _ := os.Hostname()
		addrs = parseServerString(s, host)
	} else if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		addrs = []serverAddr{{"unix", filepath.Join(dir, "pulse", "native")}}
	}
	if len(addrs) == 0 {
		return nil, errNoServer
	}
	var errs []error
	for _, a := range addrs {
		s, err := connectSoundServer(a)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: %w", errNoServer, errors.Join(errs...))
}

func connectSoundServer(a serverAddr) (*soundServer, error) {
	conn, err := net.DialTimeout(a.network, a.addr, serverTimeout)
	if err != nil {
		return nil, err
	}
	s := &soundServer{conn: conn, c: &proto.Client{}, changed: make(chan struct{}, 1)}
	s.c.SetTimeout(serverTimeout)
	// The callback runs on the client's reader goroutine, which ends when conn is closed.
	s.c.Callback = func(msg any) {
		switch m := msg.(type) {
		case *proto.SubscribeEvent:
			if m.Event.GetType() != proto.EventRemove {
				return
			}
		case *proto.ConnectionClosed:
		default:
			return
		}
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
	s.c.Open(conn)
	cookie, err := os.ReadFile(cookiePath())
	if err != nil {
		// A server that accepts anonymous clients (PipeWire's does) takes any cookie.
		cookie = make([]byte, 256)
	}
	var auth proto.AuthReply
	if err := s.c.Request(&proto.Auth{Version: s.c.Version(), Cookie: cookie}, &auth); err != nil {
		s.close()
		return nil, fmt.Errorf("sound server at %s: %w", a.addr, err)
	}
	s.c.SetVersion(auth.Version)
	props := proto.PropList{
		"application.name":       proto.PropListString("trayphone"),
		"application.process.id": proto.PropListString(strconv.Itoa(os.Getpid())),
	}
	if err := s.c.Request(&proto.SetClientName{Props: props}, &proto.SetClientNameReply{}); err != nil {
		s.close()
		return nil, fmt.Errorf("sound server at %s: %w", a.addr, err)
	}
	return s, nil
}

func cookiePath() string {
	if p, ok := os.LookupEnv("PULSE_COOKIE"); ok {
		return p
	}
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, "pulse", "cookie")
	}
	return filepath.Join(os.Getenv("HOME"), ".config", "pulse", "cookie")
}

// close ends the connection (and with it the client's reader goroutine).
func (s *soundServer) close() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if !s.closed {
		s.closed = true
		s.conn.Close()
	}
}

// devices lists the server's sinks and sources.
func (s *soundServer) devices() ([]serverDevice, error) {
	var info proto.GetServerInfoReply
	if err := s.c.Request(&proto.GetServerInfo{}, &info); err != nil {
		return nil, fmt.Errorf("ask the sound server: %w", err)
	}
	var sinks proto.GetSinkInfoListReply
	if err := s.c.Request(&proto.GetSinkInfoList{}, &sinks); err != nil {
		return nil, fmt.Errorf("list the sound server's outputs: %w", err)
	}
	var sources proto.GetSourceInfoListReply
	if err := s.c.Request(&proto.GetSourceInfoList{}, &sources); err != nil {
		return nil, fmt.Errorf("list the sound server's inputs: %w", err)
	}
	out := make([]serverDevice, 0, len(sinks)+len(sources))
	for _, d := range sinks {
		out = append(out, serverDevice{name: d.SinkName, description: d.Device, isDefault: d.SinkName == info.DefaultSinkName,
			channels: int(d.Channels), rate: int(d.Rate)})
	}
	for _, d := range sources {
		// For a source, the protocol's "monitor of sink" index is undefined unless it is a monitor.
		out = append(out, serverDevice{name: d.SourceName, description: d.Device, input: true,
			monitor: d.MonitorSourceIndex != proto.Undefined, isDefault: d.SourceName == info.DefaultSourceName,
			channels: int(d.Channels), rate: int(d.Rate)})
	}
	return out, nil
}

// exists reports whether the named sink (or source, if input) is still there. An error means
// the server could not be asked.
func (s *soundServer) exists(name string, input bool) (bool, error) {
	var err error
	if input {
		err = s.c.Request(&proto.GetSourceInfo{SourceIndex: proto.Undefined, SourceName: name}, &proto.GetSourceInfoReply{})
	} else {
		err = s.c.Request(&proto.GetSinkInfo{SinkIndex: proto.Undefined, SinkName: name}, &proto.GetSinkInfoReply{})
	}
	if errors.Is(err, proto.ErrNoSuchEntity) {
		return false, nil
	}
	return err == nil, err
}

// subscribe asks the server to tell of changes to sinks and sources.
func (s *soundServer) subscribe() error {
	return s.c.Request(&proto.Subscribe{Mask: proto.SubscriptionMaskSink | proto.SubscriptionMaskSource}, nil)
}

// findServerDevice returns the sink (or, if input, the source) called name: its exact name, or
// else the one whose name or description contains name, ignoring case. Monitors of sinks are
// chosen only by their exact name (every headset's monitor would otherwise match its own
// description). It returns nil and no error when nothing matches.
func findServerDevice(devs []serverDevice, name string, input bool) (*serverDevice, error) {
	var matches []*serverDevice
	lname := strings.ToLower(name)
	for i := range devs {
		d := &devs[i]
		if d.input != input {
			continue
		}
		if d.name == name {
			return d, nil
		}
		if !d.monitor && (strings.Contains(strings.ToLower(d.name), lname) || strings.Contains(strings.ToLower(d.description), lname)) {
			matches = append(matches, d)
		}
	}
	switch len(matches) {
	case 0:
		return nil, nil
	case 1:
		return matches[0], nil
	}
	var names []string
	for _, d := range matches {
		names = append(names, fmt.Sprintf("%q (%s)", d.name, d.description))
	}
	return nil, fmt.Errorf("audio %s device %q is ambiguous: the sound server has %s", direction(input), name, strings.Join(names, ", "))
}

// watchServerDevices reports on gone when one of devs disappears from the server: on the
// server's removal event, on a check every serverPoll, or when the connection to the server
// ends. It returns, closing s, after reporting or when stop is closed.
func watchServerDevices(s *soundServer, devs []serverDevice, stop <-chan struct{}, gone func(error)) {
	defer s.close()
	tick := time.NewTicker(serverPoll)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.changed:
		case <-tick.C:
		}
		for _, d := range devs {
			ok, err := s.exists(d.name, d.input)
			if ok {
				continue
			}
			select {
			case <-stop:
				return // closing: the answer no longer matters
			default:
			}
			if err != nil {
				gone(fmt.Errorf("audio device %q disappeared: the sound server stopped answering (%v)", d.name, err))
			} else {
				gone(fmt.Errorf("audio device %q disappeared: the sound server removed it", d.name))
			}
			return
		}
	}
}
