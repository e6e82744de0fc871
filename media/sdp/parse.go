package sdp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// maxSize bounds the descriptions Parse accepts; a SIP body is far smaller.
const maxSize = 64 << 10

// staticFormats are the audio payload types RFC 3551 §6 assigns, which need no a=rtpmap
// (https://www.rfc-editor.org/rfc/rfc3551#section-6).
var staticFormats = map[uint8]Format{
	0:  {PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	3:  {PayloadType: 3, Name: "GSM", ClockRate: 8000, Channels: 1},
	4:  {PayloadType: 4, Name: "G723", ClockRate: 8000, Channels: 1},
	5:  {PayloadType: 5, Name: "DVI4", ClockRate: 8000, Channels: 1},
	6:  {PayloadType: 6, Name: "DVI4", ClockRate: 16000, Channels: 1},
	7:  {PayloadType: 7, Name: "LPC", ClockRate: 8000, Channels: 1},
	8:  {PayloadType: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
	9:  {PayloadType: 9, Name: "G722", ClockRate: 8000, Channels: 1},
	10: {PayloadType: 10, Name: "L16", ClockRate: 44100, Channels: 2},
	11: {PayloadType: 11, Name: "L16", ClockRate: 44100, Channels: 1},
	12: {PayloadType: 12, Name: "QCELP", ClockRate: 8000, Channels: 1},
	13: {PayloadType: 13, Name: "CN", ClockRate: 8000, Channels: 1},
	15: {PayloadType: 15, Name: "G728", ClockRate: 8000, Channels: 1},
	16: {PayloadType: 16, Name: "DVI4", ClockRate: 11025, Channels: 1},
	17: {PayloadType: 17, Name: "DVI4", ClockRate: 22050, Channels: 1},
	18: {PayloadType: 18, Name: "G729", ClockRate: 8000, Channels: 1},
}

// line is one non-empty line of a description: its number (from 1), type letter and value.
type line struct {
	n   int
	typ byte
	val string
}

// parsedStream is an m= section as the first pass sees it.
type parsedStream struct {
	stream
	n     int    // line number of the m= line
	port  int    // -1 when the port is not a number
	conn  string // c= line rewritten for pion, or ""
	addr  netip.Addr
	attrs []string
}

// Parse reads a session description and picks out its audio stream: the first m=audio line with
// a non-zero port, preferring plain RTP/AVP(F) when the offer also has secure copies. It is
// tolerant of what real user agents send: LF or CRLF line ends, attributes it does not know,
// lines out of the RFC 4566 §5 order, several m= lines, static payload types without a=rtpmap
// (RFC 3551 §6) and c=0.0.0.0 hold (RFC 3264 §8.4), which it reports as the sender not receiving.
// Errors name the line: "sdp: line 5: ...".
func Parse(b []byte) (*Session, error) {
	if len(b) > maxSize {
		return nil, fmt.Errorf("sdp: description of %d bytes is too large", len(b))
	}
	lines, err := splitLines(b)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("sdp: empty description")
	}
	if l := lines[0]; l.typ != 'v' || l.val != "0" {
		return nil, lineError(l.n, `want "v=0" first, got %q`, clip(string(l.typ)+"="+l.val))
	}

	// First pass: the line structure, validated where we depend on it (RFC 4566 §5).
	var (
		origin    = "- 0 0"
		sessConn  string
		sessAddr  netip.Addr
		sessAttrs []string
		streams   []*parsedStream
	)
	sawOrigin := false
	for _, l := range lines[1:] {
		if l.typ == 'm' {
			st, err := parseMediaLine(l)
			if err != nil {
				return nil, err
			}
			streams = append(streams, st)
			continue
		}
		if len(streams) == 0 {
			switch l.typ {
			case 'o':
				if !sawOrigin {
					if origin, err = parseOrigin(l); err != nil {
						return nil, err
					}
					sawOrigin = true
				}
			case 'c':
				if sessAddr, err = parseConnection(l); err != nil {
					return nil, err
				}
				sessConn = connLine(sessAddr)
			case 'a':
				sessAttrs = append(sessAttrs, l.val)
			}
			continue
		}
		st := streams[len(streams)-1]
		if st.media != "audio" || st.port <= 0 {
			continue // not ours to read: it will be rejected in the answer
		}
		switch l.typ {
		case 'c':
			if st.addr, err = parseConnection(l); err != nil {
				return nil, err
			}
			st.conn = connLine(st.addr)
		case 'a':
			st.attrs = append(st.attrs, l.val)
		}
	}

	audio := pickAudio(streams)
	if audio < 0 {
		return nil, ErrNoAudio
	}
	st := streams[audio]
	addr := st.addr
	if st.conn == "" {
		if sessConn == "" {
			return nil, lineError(st.n, "audio stream has no connection address (c=)")
		}
		addr = sessAddr
	}

	// Second pass: hand pion a canonical description of just the audio stream.
	var doc strings.Builder
	doc.WriteString("v=0\r\no=" + origin + " IN IP4 0.0.0.0\r\ns=-\r\n")
	if sessConn != "" {
		doc.WriteString(sessConn)
	}
	doc.WriteString("t=0 0\r\n")
	for _, a := range sessAttrs {
		doc.WriteString("a=" + a + "\r\n")
	}
	doc.WriteString("m=audio " + strconv.Itoa(st.port) + " RTP/AVP")
	for _, f := range st.formats {
		doc.WriteString(" " + f)
	}
	doc.WriteString("\r\n" + st.conn)
	for _, a := range st.attrs {
		doc.WriteString("a=" + a + "\r\n")
	}
	var sd psdp.SessionDescription
	if err := sd.UnmarshalString(doc.String()); err != nil {
		return nil, fmt.Errorf("sdp: %w", err)
	}
	if len(sd.MediaDescriptions) != 1 {
		return nil, ErrNoAudio
	}

	s := &Session{
		Username:  sd.Origin.Username,
		SessionID: sd.Origin.SessionID,
		Version:   sd.Origin.SessionVersion,
		audio:     audio,
	}
	for _, ps := range streams {
		s.streams = append(s.streams, ps.stream)
	}
	s.Audio = audioMedia(&sd, sd.MediaDescriptions[0], addr, st)
	readDTLS(&s.Audio, st.attrs, sessAttrs)
	return s, nil
}

// audioMedia reads the formats, direction and packet time of the one media description of sd.
func audioMedia(sd *psdp.SessionDescription, md *psdp.MediaDescription, addr netip.Addr, st *parsedStream) Media {
	m := Media{Addr: addr, Port: st.port, Proto: st.proto, Direction: SendRecv}
	codecs := sd.GetCodecMap()
	seen := map[uint8]bool{}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 || seen[uint8(n)] {
			continue
		}
		pt := uint8(n)
		seen[pt] = true
		c, ok := codecs[pt]
		var format Format
		switch {
		case ok && c.Name != "" && c.ClockRate > 0 && c.ClockRate <= math.MaxInt32:
			format = Format{PayloadType: pt, Name: c.Name, ClockRate: int(c.ClockRate), Channels: 1}
			if ch, err := strconv.Atoi(c.EncodingParameters); err == nil && ch > 0 && ch <= 255 {
				format.Channels = ch
			}
		case staticFormats[pt].Name != "":
			format = staticFormats[pt]
		default:
			continue // a dynamic payload type without a usable rtpmap: nothing we can play
		}
		format.Fmtp = c.Fmtp
		m.Formats = append(m.Formats, format)
	}
	for i := range m.Formats {
		if strings.EqualFold(m.Formats[i].Name, "telephone-event") {
			te := m.Formats[i]
			m.TelephoneEvent = &te
			break
		}
	}

	for _, a := range md.Attributes {
		if a.Key != "crypto" {
			continue
		}
		if c, err := ParseCrypto(a.Value); err == nil {
			m.Crypto = append(m.Crypto, c)
		}
	}

	// Media-level attributes override session-level ones (RFC 4566 §6).
	direction, sessDirection := Unknown, Unknown
	for _, a := range md.Attributes {
		if d, ok := parseDirection(a.Key); ok && direction == Unknown {
			direction = d
		}
	}
	for _, a := range sd.Attributes {
		if d, ok := parseDirection(a.Key); ok && sessDirection == Unknown {
			sessDirection = d
		}
	}
	switch {
	case direction != Unknown:
		m.Direction = direction
	case sessDirection != Unknown:
		m.Direction = sessDirection
	}
	// c=0.0.0.0 says "do not send to me" (RFC 3264 §8.4, from RFC 2543).
	if addr.IsUnspecified() {
		m.Direction = directionOf(m.Direction.sends(), false)
	}

	ptime, ok := md.Attribute("ptime")
	if !ok {
		ptime, _ = sd.Attribute("ptime")
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(ptime), 64); err == nil && v >= 1 && v <= 1000 {
		m.PTime = int(math.Round(v))
	}
	return m
}

// pickAudio returns the index of the audio stream to use, or -1: the first m=audio with a port,
// preferring RTP/AVP or RTP/AVPF over secure or unknown transports.
func pickAudio(streams []*parsedStream) int {
	first := -1
	for i, st := range streams {
		if st.media != "audio" || st.port <= 0 {
			continue
		}
		if plainRTP(st.proto) {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// plainRTP reports whether proto is RTP without security, which is what trayphone speaks.
func plainRTP(proto string) bool {
	return strings.EqualFold(proto, "RTP/AVP") || strings.EqualFold(proto, "RTP/AVPF")
}

// splitLines splits a description into its non-empty lines. It accepts CRLF, LF and lone CR line
// ends (RFC 4566 §5 asks for CRLF and tells parsers to accept LF) and trailing blanks.
func splitLines(b []byte) ([]line, error) {
	var lines []line
	for n := 1; len(b) > 0; n++ {
		var l []byte
		if i := bytes.IndexAny(b, "\r\n"); i < 0 {
			l, b = b, nil
		} else {
			l = b[:i]
			if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			b = b[i+1:]
		}
		l = bytes.TrimRight(l, " \t")
		if len(l) == 0 {
			continue
		}
		if len(l) < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z' {
			return nil, lineError(n, `want "<type>=<value>", got %q`, clip(string(l)))
		}
		lines = append(lines, line{n: n, typ: l[0], val: string(l[2:])})
	}
	return lines, nil
}

// fields splits a line value at spaces and tabs, the only separators SDP has.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// parseOrigin checks an o= line (RFC 4566 §5.2) and returns its first three fields, cleaned up
// for pion: "<username> <sess-id> <sess-version>". A session id too large for 64 bits is read as 0;
// the version must be a number, since re-offers are told apart by it.
func parseOrigin(l line) (string, error) {
	f := fields(l.val)
	if len(f) < 3 {
		return "", lineError(l.n, "o= needs username, session id and version, got %q", clip(l.val))
	}
	if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
		f[1] = "0"
	}
	if _, err := strconv.ParseUint(f[2], 10, 64); err != nil {
		return "", lineError(l.n, "o= session version %q is not a number", clip(f[2]))
	}
	return f[0] + " " + f[1] + " " + f[2], nil
}

// parseConnection reads the address of a c= line (RFC 4566 §5.7): "IN IP4 192.0.2.1", with an
// optional multicast "/ttl" suffix.
func parseConnection(l line) (netip.Addr, error) {
	f := fields(l.val)
	if len(f) < 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
		return netip.Addr{}, lineError(l.n, `want "c=IN IP4|IP6 <address>", got %q`, clip(l.val))
	}
	host, _, _ := strings.Cut(f[2], "/")
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, lineError(l.n, "connection address %q is not an IP address", clip(f[2]))
	}
	if (f[1] == "IP4") != addr.Unmap().Is4() {
		return netip.Addr{}, lineError(l.n, "connection address %s is not %s", addr, f[1])
	}
	return addr.Unmap(), nil
}

// connLine writes addr as a c= line.
func connLine(addr netip.Addr) string {
	if addr.Is4() {
		return "c=IN IP4 " + addr.String() + "\r\n"
	}
	return "c=IN IP6 " + addr.String() + "\r\n"
}

// parseMediaLine reads an m= line, RFC 4566 §5.14: "audio 49170 RTP/AVP 0 8 101". Only audio
// streams must have a numeric port: the others are only ever rejected.
func parseMediaLine(l line) (*parsedStream, error) {
	f := fields(l.val)
	if len(f) < 3 {
		return nil, lineError(l.n, "m= needs media, port and transport, got %q", clip(l.val))
	}
	st := &parsedStream{stream: stream{media: f[0], proto: f[2], formats: f[3:]}, n: l.n, port: -1}
	portStr, _, _ := strings.Cut(f[1], "/")
	if port, err := strconv.Atoi(portStr); err == nil && port >= 0 && port <= 65535 {
		st.port = port
	} else if st.media == "audio" {
		return nil, lineError(l.n, "m= port %q is not a number from 0 to 65535", clip(f[1]))
	}
	return st, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 60
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
