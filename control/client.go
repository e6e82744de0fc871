package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"trayphone/internal/phone"
)

// ErrNotRunning is matched (errors.Is) by the error Dial returns when no trayphone is running.
var ErrNotRunning = errors.New("trayphone is not running")

// NotRunningError says that no trayphone answers on the control socket.
type NotRunningError struct {
	Path string
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("trayphone is not running (no control socket at %s); start it with \"trayphone\" or \"trayphone --headless\"", e.Path)
}

// Is makes errors.Is(err, ErrNotRunning) true.
func (e *NotRunningError) Is(target error) bool { return target == ErrNotRunning }

// VersionError says that the server speaks another protocol version than this client.
type VersionError struct {
	Server, Client int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("the running trayphone speaks control protocol version %d but this command speaks version %d; restart trayphone with this binary, or use the binary that started it",
		e.Server, e.Client)
}

// RemoteError is a command the server refused or that failed; its text is meant for the user.
type RemoteError struct {
	Cmd     string
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Client is a connection to a running trayphone. Its methods may be called from several goroutines;
// requests are sent one at a time.
type Client struct {
	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	nextID int64
	broken error
	hello  HelloResult
}

// dialTimeout bounds connecting and the hello exchange.
const dialTimeout = 5 * time.Second

// Dial connects to the trayphone whose control socket is at path and checks its protocol version.
// When no instance is running it returns a *NotRunningError.
func Dial(path string) (*Client, error) {
	conn, err := dialEndpoint(path, dialTimeout)
	if err != nil {
		if errors.Is(err, syscallENOENT) || errors.Is(err, syscallECONNREFUSED) {
			return nil, &NotRunningError{Path: path}
		}
		return nil, fmt.Errorf("connect to trayphone at %s: %w", path, err)
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := c.Do(ctx, "hello", nil, &c.hello); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}

// ServerPID returns the pid the server gave in its hello.
func (c *Client) ServerPID() int { return c.hello.PID }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Do sends cmd with args (marshalled as JSON; nil for none) and decodes the result into result
// (ignored when nil). A refusal by the server is a *RemoteError. When ctx ends first, Do returns
// ctx.Err() and the client cannot be used again.
func (c *Client) Do(ctx context.Context, cmd string, args, result any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, err := c.roundTrip(ctx, cmd, args)
	if err != nil {
		return err
	}
	if result != nil {
		if err := json.Unmarshal(raw, result); err != nil {
			return fmt.Errorf("%s: unexpected answer from trayphone: %w", cmd, err)
		}
	}
	return nil
}

// roundTrip sends one request and reads its response. c.mu is held.
func (c *Client) roundTrip(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	c.nextID++
	req := Request{V: phone.ProtocolVersion, ID: c.nextID, Cmd: cmd}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("%s: encode arguments: %w", cmd, err)
		}
		req.Args = b
	}
	line, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}

	if d, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(d)
	} else {
		_ = c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	fail := func(err error) error {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			err = fmt.Errorf("%s: lost the connection to trayphone: %w", cmd, err)
		}
		c.broken = err
		return err
	}
	if _, err := c.conn.Write(append(line, '\n')); err != nil {
		return nil, fail(err)
	}
	respLine, err := c.r.ReadBytes('\n')
	if err != nil {
		return nil, fail(err)
	}
	var resp Response
	if err := json.Unmarshal(respLine, &resp); err != nil {
		return nil, fail(fmt.Errorf("unreadable answer: %w", err))
	}
	if resp.V != phone.ProtocolVersion {
		c.broken = &VersionError{Server: resp.V, Client: phone.ProtocolVersion}
		return nil, c.broken
	}
	if !resp.OK {
		return nil, &RemoteError{Cmd: cmd, Message: resp.Error}
	}
	if resp.ID != req.ID {
		return nil, fail(fmt.Errorf("answer for request %d, want %d", resp.ID, req.ID))
	}
	return resp.Result, nil
}

// Events subscribes to the event stream and calls fn for each event, the first being a status
// snapshot. It returns fn's error if fn fails, ctx.Err() when ctx ends, or an error when the
// connection is lost. The client cannot be used for anything else afterwards.
func (c *Client) Events(ctx context.Context, fn func(phone.Event) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.roundTrip(ctx, "events", nil); err != nil {
		return err
	}
	c.broken = errors.New("events: the connection is an event stream now")
	_ = c.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = c.conn.Close() })
	defer stop()
	for {
		line, err := c.r.ReadBytes('\n')
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("events: lost the connection to trayphone: %w", err)
		}
		var ev phone.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("events: unreadable event: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
