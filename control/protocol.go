// Package control is trayphone's per-user local control socket: a newline-delimited JSON protocol
// over a Unix stream socket, the server that serves it on behalf of the core, the client the CLI
// uses, and the event stream.
//
// Protocol version 1. Each request and response is one JSON object on one line:
//
//	→ {"v":1,"id":7,"cmd":"call","args":{"target":"bob"}}
//	← {"v":1,"id":7,"ok":true,"result":{"id":"c1","state":"dialing",...}}
//	← {"v":1,"id":7,"ok":false,"error":"no call to answer"}
//
// Every response carries the server's protocol version in "v"; a client checks it on its first
// exchange ("hello"). The "events" command turns the connection into a stream of phone.Event
// objects, one per line, starting with a status snapshot, until the client closes the connection.
package control

import (
	"encoding/json"
	"errors"
	"fmt"

	"trayphone/internal/phone"
)

// Request is one command sent to the server.
type Request struct {
	V    int             `json:"v"`
	ID   int64           `json:"id"`
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response answers the Request with the same ID.
type Response struct {
	V      int             `json:"v"`
	ID     int64           `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// HelloResult is the result of "hello".
type HelloResult struct {
	Version int `json:"version"`
	PID     int `json:"pid"`
}

// CallArgs are the arguments of "call".
type CallArgs struct {
	Target  string `json:"target"`
	Account string `json:"account,omitempty"`
}

// IDArgs are the arguments of "answer", "hangup", "hold" and "resume"; ID "" picks the only
// candidate call.
type IDArgs struct {
	ID string `json:"id,omitempty"`
}

// MuteArgs are the arguments of "mute".
type MuteArgs struct {
	ID string `json:"id,omitempty"`
	On bool   `json:"on"`
}

// DNDArgs are the arguments of "dnd".
type DNDArgs struct {
	On *bool `json:"on"`
}

// maxLine bounds one request or response line.
const maxLine = 1 << 20

// errBadRequest is wrapped by every error decodeRequest returns.
var errBadRequest = errors.New("bad request")

// decodeRequest parses one request line. On error the returned Request still carries the ID, when
// one could be read, so that the error response can name it.
func decodeRequest(line []byte) (Request, error) {
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		// Recover the id, if any, for the error response.
		var partial struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(line, &partial)
		return Request{ID: partial.ID}, fmt.Errorf("%w: not a JSON request object", errBadRequest)
	}
	if req.V != phone.ProtocolVersion {
		return req, fmt.Errorf("%w: protocol version %d is not supported; this trayphone speaks version %d",
			errBadRequest, req.V, phone.ProtocolVersion)
	}
	if req.Cmd == "" {
		return req, fmt.Errorf("%w: no command (\"cmd\")", errBadRequest)
	}
	if len(req.Args) > 0 && !json.Valid(req.Args) {
		return req, fmt.Errorf("%w: args are not JSON", errBadRequest)
	}
	return req, nil
}

// decodeArgs unmarshals a request's args into v; missing args leave v at its zero value.
func decodeArgs(cmd string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("bad arguments for %q: %v", cmd, err)
	}
	return nil
}
