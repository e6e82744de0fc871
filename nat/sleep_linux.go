//go:build linux

package nat

import (
	"context"
	"errors"
	"sync"

	"github.com/godbus/dbus/v5"
)

// logind's bus name, object and the signal it sends around sleep
// (https://www.freedesktop.org/software/systemd/man/latest/org.freedesktop.login1.html):
// PrepareForSleep(true) just before the machine sleeps, PrepareForSleep(false) once it woke.
const (
	logindName   = "org.freedesktop.login1"
	logindPath   = "/org/freedesktop/login1"
	logindIface  = "org.freedesktop.login1.Manager"
	logindSignal = logindIface + ".PrepareForSleep"
)

// logindSleeper reads PrepareForSleep from the system bus (DBUS_SYSTEM_BUS_ADDRESS, else the
// standard socket).
type logindSleeper struct {
	conn      *dbus.Conn
	signals   chan *dbus.Signal
	done      chan struct{}
	closeOnce sync.Once
}

// openOSSleeper connects to the system bus and subscribes to logind's PrepareForSleep. It fails
// when there is no system bus or no logind on it: wake-ups are then noticed by the clock jump.
// The connection is closed when ctx ends.
func openOSSleeper(ctx context.Context) (sleeper, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, logindName).Store(&has); err != nil {
		conn.Close()
		return nil, err
	}
	if !has {
		conn.Close()
		return nil, errors.New("logind is not on the system bus")
	}
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchSender(logindName), dbus.WithMatchObjectPath(logindPath),
		dbus.WithMatchInterface(logindIface), dbus.WithMatchMember("PrepareForSleep")); err != nil {
		conn.Close()
		return nil, err
	}
	s := &logindSleeper{conn: conn, signals: make(chan *dbus.Signal, 8), done: make(chan struct{})}
	conn.Signal(s.signals)
	return s, nil
}

func (s *logindSleeper) Name() string { return "logind" }

// Next returns at the next PrepareForSleep(false).
func (s *logindSleeper) Next() (string, error) {
	for {
		select {
		case <-s.done:
			return "", errClosed
		case sig, ok := <-s.signals:
			if !ok {
				return "", errors.New("the system bus connection closed")
			}
			if sig.Name != logindSignal || len(sig.Body) != 1 {
				continue
			}
			if sleeping, ok := sig.Body[0].(bool); ok && !sleeping {
				return "logind: resumed from sleep", nil
			}
		}
	}
}

func (s *logindSleeper) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.conn.Close()
	})
	return nil
}
