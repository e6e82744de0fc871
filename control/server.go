package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"trayphone/internal/phone"
)

// Core is what the control socket needs from the phone. *callmgr.Manager (with account and nat)
// satisfies it.
type Core interface {
	// Call places a call. target is a sip:, sips: or tel: URI, user@host, a favorite's name or "echo";
	// account "" lets the core choose.
	Call(ctx context.Context, target, account string) (phone.CallInfo, error)
	// Answer answers the incoming call id; "" means the only ringing incoming call.
	Answer(ctx context.Context, id string) error
	// Hangup ends call id; "" means the only call, or the ringing one.
	Hangup(ctx context.Context, id string) error
	Hold(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Mute(ctx context.Context, id string, on bool) error
	SetDND(ctx context.Context, on bool) error
	Status() phone.Status
	// Subscribe returns a channel of events and a function that ends the subscription. The server
	// drains the channel promptly whatever its clients do.
	Subscribe() (events <-chan phone.Event, cancel func())
}

// HandlerFunc serves one extension command: it gets the request's raw args and returns a result to
// be marshalled as JSON (nil gives {}), or an error whose text is shown to the user.
type HandlerFunc func(ctx context.Context, args json.RawMessage) (any, error)

// eventBuffer is how many events one slow events client may lag behind before the oldest are dropped.
const eventBuffer = 64

// AlreadyRunningError is returned by NewServer when another trayphone answers on the socket.
type AlreadyRunningError struct {
	Path string
	PID  int // 0 when the other instance did not say
}

func (e *AlreadyRunningError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("trayphone is already running (pid %d)", e.PID)
	}
	return fmt.Sprintf("trayphone is already running (control socket %s is in use)", e.Path)
}

// Server serves the control protocol on a Unix socket for one core.
type Server struct {
	path string
	core Core
	log  *slog.Logger
	ln   net.Listener

	mu       sync.Mutex
	handlers map[string]HandlerFunc

	closeOnce sync.Once
}

// NewServer prepares the control channel at path and listens on it. On Unix that is a socket
// file: it creates the socket's directory with mode 0700 (refusing one that another user owns or
// may write to; see paths.EnsureSocketDir), refuses to start when another live instance answers
// on the socket, removes a stale socket, listens, and makes the socket 0600 (listen_unix.go). On
// Windows it is a named pipe derived from path that only the current user may open
// (listen_windows.go). Call Serve to accept connections.
func NewServer(path string, core Core, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := listen(path, log)
	if err != nil {
		return nil, err
	}
	return &Server{path: path, core: core, log: log, ln: ln, handlers: map[string]HandlerFunc{}}, nil
}

// probe reports whether something answers on the socket at path, and the pid it gives in "hello".
func probe(path string) (live bool, pid int) {
	c, err := dialEndpoint(path, time.Second)
	if err != nil {
		return false, 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	req, _ := json.Marshal(Request{V: phone.ProtocolVersion, ID: 1, Cmd: "hello"})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return true, 0
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		// A live but busy instance times out; a reset or EOF means nobody is serving (for example a
		// forked child briefly holding a dead instance's listener).
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout(), 0
	}
	var resp Response
	var hello HelloResult
	if json.Unmarshal(line, &resp) == nil && resp.OK && json.Unmarshal(resp.Result, &hello) == nil {
		return true, hello.PID
	}
	return true, 0
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Handle adds or replaces the extension command cmd (for example "dtmf" or "devices"). The built-in
// commands "hello" and "events" cannot be replaced. It is safe to call while serving.
func (s *Server) Handle(cmd string, h HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[cmd] = h
}

// Serve accepts connections until ctx is done. It then closes the listener and every connection,
// waits for all connection handlers to return, removes the socket file, and returns nil. It returns
// an error only if accepting fails for another reason (after the same cleanup). Call it once.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = s.ln.Close() })
	defer stop()

	var wg sync.WaitGroup
	var err error
	for {
		c, aerr := s.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("control socket: accept: %w", aerr)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
		}()
	}
	cancel()
	wg.Wait()
	s.Close()
	return err
}

// Close closes the listener and removes the socket file. Serve does this itself; Close is for a
// server that is never served.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		_ = s.ln.Close()
		removeEndpoint(s.path, s.log)
	})
}

// serveConn runs one connection's request loop. It returns when the client closes the connection,
// sends something unreadable, or ctx is done.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()

	w := &respWriter{c: c}
	if deny, err := checkPeer(c); err != nil {
		s.log.Warn("control connection: cannot read peer credentials", "err", err)
		w.write(Response{V: phone.ProtocolVersion, Error: "cannot check who is connecting"})
		return
	} else if deny != "" {
		s.log.Warn("control connection from another user refused", "peer", deny)
		w.write(Response{V: phone.ProtocolVersion, Error: "permission denied: " + deny})
		return
	}

	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		req, err := decodeRequest(line)
		if err != nil {
			if !w.write(Response{V: phone.ProtocolVersion, ID: req.ID, Error: err.Error()}) {
				return
			}
			continue
		}
		if req.Cmd == "events" {
			s.streamEvents(ctx, c, sc, w, req)
			return
		}
		result, err := s.dispatch(ctx, req)
		if !w.write(response(req.ID, result, err)) {
			return
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		w.write(Response{V: phone.ProtocolVersion, Error: fmt.Sprintf("%v: request longer than %d bytes", errBadRequest, maxLine)})
	}
}

// response builds the Response for a handler's outcome.
func response(id int64, result any, err error) Response {
	resp := Response{V: phone.ProtocolVersion, ID: id}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			resp.Error = "trayphone is shutting down"
		} else {
			resp.Error = err.Error()
		}
		return resp
	}
	if result == nil {
		result = struct{}{}
	}
	raw, merr := json.Marshal(result)
	if merr != nil {
		resp.Error = fmt.Sprintf("internal error: encode result: %v", merr)
		return resp
	}
	resp.OK = true
	resp.Result = raw
	return resp
}

// respWriter writes lines to a connection; a write that takes longer than writeTimeout fails.
type respWriter struct {
	mu sync.Mutex
	c  net.Conn
}

const writeTimeout = 10 * time.Second

func (w *respWriter) write(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = w.c.Write(append(b, '\n'))
	return err == nil
}

// dispatch runs one request.
func (s *Server) dispatch(ctx context.Context, req Request) (any, error) {
	if req.Cmd != "hello" {
		s.mu.Lock()
		h, ok := s.handlers[req.Cmd]
		s.mu.Unlock()
		if ok {
			return h(ctx, req.Args)
		}
	}
	switch req.Cmd {
	case "hello":
		return HelloResult{Version: phone.ProtocolVersion, PID: os.Getpid()}, nil
	case "status":
		return s.status(), nil
	case "calls":
		return s.status().Calls, nil
	case "call":
		var a CallArgs
		if err := decodeArgs(req.Cmd, req.Args, &a); err != nil {
			return nil, err
		}
		if a.Target == "" {
			return nil, errors.New("call needs a target: a SIP address, a favorite's name or \"echo\"")
		}
		return s.core.Call(ctx, a.Target, a.Account)
	case "answer", "hangup", "hold", "resume":
		var a IDArgs
		if err := decodeArgs(req.Cmd, req.Args, &a); err != nil {
			return nil, err
		}
		f := map[string]func(context.Context, string) error{
			"answer": s.core.Answer, "hangup": s.core.Hangup, "hold": s.core.Hold, "resume": s.core.Resume,
		}[req.Cmd]
		return nil, f(ctx, a.ID)
	case "mute":
		var a MuteArgs
		if err := decodeArgs(req.Cmd, req.Args, &a); err != nil {
			return nil, err
		}
		return nil, s.core.Mute(ctx, a.ID, a.On)
	case "dnd":
		var a DNDArgs
		if err := decodeArgs(req.Cmd, req.Args, &a); err != nil {
			return nil, err
		}
		if a.On == nil {
			return nil, errors.New("dnd needs \"on\": true or false")
		}
		return nil, s.core.SetDND(ctx, *a.On)
	}
	return nil, fmt.Errorf("unknown command %q", req.Cmd)
}

// status returns the core's status with the fields clients rely on filled in.
func (s *Server) status() phone.Status {
	st := s.core.Status()
	if st.Version == 0 {
		st.Version = phone.ProtocolVersion
	}
	if st.PID == 0 {
		st.PID = os.Getpid()
	}
	if st.Contact == nil {
		st.Contact = []string{}
	}
	if st.Accounts == nil {
		st.Accounts = []phone.AccountInfo{}
	}
	if st.Calls == nil {
		st.Calls = []phone.CallInfo{}
	}
	return st
}

// streamEvents turns the connection into an event stream: an ok response, a status snapshot, then
// every core event. The core's channel is drained into a bounded queue that drops the oldest
// events, so a client that reads slowly never holds up the core. It returns when the client closes
// the connection, a write fails, the core ends the subscription, or ctx is done.
func (s *Server) streamEvents(ctx context.Context, c net.Conn, sc *bufio.Scanner, w *respWriter, req Request) {
	events, cancel := s.core.Subscribe()
	defer cancel()
	if !w.write(response(req.ID, map[string]string{"stream": "events"}, nil)) {
		return
	}
	q := newEventQueue(eventBuffer)
	st := s.status()
	q.push(phone.Event{Type: phone.EventStatus, Time: time.Now(), Status: &st})

	gone := make(chan struct{}) // the client closed its end
	go func() {
		defer close(gone)
		for sc.Scan() {
			// Anything a client sends on an events connection is ignored.
		}
	}()
	writeFailed := make(chan struct{})
	go func() {
		defer close(writeFailed)
		for {
			ev, ok := q.pop()
			if !ok {
				return
			}
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			// Each event gets writeTimeout of its own: the deadline the opening answer set
			// would otherwise end the stream writeTimeout after it began.
			_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := c.Write(append(b, '\n')); err != nil {
				return
			}
		}
	}()

	defer func() {
		q.close()
		_ = c.Close()
		<-gone
		<-writeFailed
	}()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			q.push(ev)
		case <-gone:
			return
		case <-writeFailed:
			return
		case <-ctx.Done():
			return
		}
	}
}
