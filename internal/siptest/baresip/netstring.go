package baresip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxNetstring bounds the length prefix we accept from baresip; its largest messages (uanew,
// reginfo, long "data" dumps) are a few kB.
const maxNetstring = 1 << 20

// appendNetstring frames payload as a netstring: "<decimal length>:<payload>,".
func appendNetstring(dst, payload []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, ':')
	dst = append(dst, payload...)
	return append(dst, ',')
}

// readNetstring reads one netstring from r and returns its payload.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	n := 0
	digits := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			if digits > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if c == ':' {
			break
		}
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("netstring: unexpected byte %q in length", c)
		}
		n = n*10 + int(c-'0')
		digits++
		if n > maxNetstring {
			return nil, fmt.Errorf("netstring: length exceeds %d", maxNetstring)
		}
	}
	if digits == 0 {
		return nil, errors.New("netstring: empty length")
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if buf[n] != ',' {
		return nil, fmt.Errorf("netstring: missing ',' terminator (got %q)", buf[n])
	}
	return buf[:n], nil
}
