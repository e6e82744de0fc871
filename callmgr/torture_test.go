package callmgr

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/phone"
	"trayphone/internal/sipua"
)

// In a torture expectation, noAnswer: the message is dropped without a response; anyAnswer:
// whatever the phone likes, including none (it must only survive).
const (
	noAnswer  = 0
	anyAnswer = -1
)

// tortureWant is what RFC 4475 section 3 says an element does with each message, read for a
// user agent that is not a registrar or proxy. A list holds every acceptable outcome; nil means
// "not 400" for a valid message and "not 2xx" for an invalid one (the RFC leaves the choice to
// the element, and a phone rejects these for reasons of its own, such as 404 for a user that is
// not ours or 405 for REGISTER). RFC 3261 section 8.2 checks the Request-URI's user (404) before
// the content (415, 406), so 404 is right where the RFC example's user is not ours.
var tortureWant = map[string][]int{
	// 3.1.1: valid messages. They parse: never 400.
	"valid/wsinv.dat": nil, "valid/intmeth.dat": {405, 501}, "valid/esc01.dat": nil, "valid/escnull.dat": nil,
	"valid/esc02.dat": {405, 501}, "valid/lwsdisp.dat": nil, "valid/longreq.dat": nil, "valid/dblreq.dat": nil,
	"valid/semiuri.dat": nil, "valid/transports.dat": nil, "valid/mpart01.dat": nil,
	// 3.1.1.12, 3.1.1.13: responses no transaction of ours matches: dropped.
	"valid/unreason.dat": {noAnswer}, "valid/noreason.dat": {noAnswer},
	// 3.1.2: invalid messages: 400 or dropped.
	"invalid/badinv01.dat": {400, noAnswer}, "invalid/clerr.dat": {400, noAnswer}, "invalid/ncl.dat": {400, noAnswer},
	"invalid/scalar02.dat": {400, noAnswer}, "invalid/scalarlg.dat": {400, noAnswer}, "invalid/quotbal.dat": {400, noAnswer},
	"invalid/ltgtruri.dat": {400, noAnswer}, "invalid/lwsruri.dat": {400, noAnswer}, "invalid/lwsstart.dat": {400, noAnswer},
	"invalid/trws.dat": {400, noAnswer}, "invalid/escruri.dat": nil, "invalid/baddate.dat": nil,
	"invalid/regbadct.dat": nil, "invalid/badaspec.dat": {400, noAnswer}, "invalid/baddn.dat": {400, noAnswer},
	"invalid/badvers.dat": {505, noAnswer}, "invalid/mismatch01.dat": {400, noAnswer},
	"invalid/mismatch02.dat": {400, 501, noAnswer}, "invalid/bigcode.dat": {noAnswer},
	"invalid/test.dat": {400, noAnswer},
	// 3.2.1: a branch that is only the magic cookie: anything, as long as the phone survives.
	"invalid/badbranch.dat": {anyAnswer},
	// 3.3: application-layer semantics.
	"invalid/insuf.dat": {400, noAnswer}, "invalid/unkscm.dat": {416, 400, noAnswer}, "invalid/novelsc.dat": {416, 400, noAnswer},
	"invalid/unksm2.dat": nil, "invalid/bext01.dat": {420}, "invalid/invut.dat": {415, 404},
	"invalid/regaut01.dat": nil, "invalid/multi01.dat": {400, noAnswer}, "invalid/mcl01.dat": {400, noAnswer},
	"invalid/bcast.dat": {noAnswer}, "invalid/zeromf.dat": {200}, "invalid/cparam01.dat": nil, "invalid/cparam02.dat": nil,
	"invalid/regescrt.dat": nil, "invalid/sdp01.dat": {406, 404},
	// 3.4.1: an RFC 2543 INVITE (no branch): a user that is not ours, so not 2xx.
	"invalid/inv2543.dat": nil,
}

// tortureGaps are the answers the phone gives today where RFC 4475 asks for something else,
// each with the reason. An answer must be in tortureWant or here; when one is fixed, its entry
// goes (docs/SECURITY.md lists them).
var tortureGaps = map[string]int{
	// sipgo answers 400 before any handler of ours: the Via branch lacks RFC 3261's magic
	// cookie, and the RFC 2543 transaction key needs the From tag, which sipgo's parser does not
	// find in "; tag = 98asjd8" (whitespace around "=", which RFC 3261's grammar allows).
	"valid/wsinv.dat": 400,
}

// viaSentBy finds the first Via's protocol and sent-by, with the whitespace and line folding
// wsinv.dat puts there.
var viaSentBy = regexp.MustCompile(`(?i)(\n(?:via|v)[ \t]*:[ \t\r\n]*SIP[ \t\r\n]*/[ \t\r\n]*[0-9.]+[ \t\r\n]*/[ \t\r\n]*)(UDP|TCP|TLS)([ \t\r\n]+)([^;,\s]+)`)

// tortureFrom rewrites msg's first Via to name our test socket (transport and sent-by), so that
// answers come back to it instead of the example hosts of the RFC; everything else stays byte
// for byte. Messages without a Via we can read go as they are.
func tortureFrom(msg []byte, transport, addr string) []byte {
	loc := viaSentBy.FindSubmatchIndex(msg)
	if loc == nil {
		return msg
	}
	var b bytes.Buffer
	b.Write(msg[:loc[4]])
	b.WriteString(transport)
	b.Write(msg[loc[5]:loc[8]])
	b.WriteString(addr)
	b.Write(msg[loc[9]:])
	return b.Bytes()
}

// TestTortureMessages throws the RFC 4475 torture messages at the SIP port of a running phone,
// over UDP and over TCP (each on a connection of its own): each must get the treatment
// tortureWant gives it, no message may ring or leave a call behind, and afterwards the phone
// must still answer OPTIONS on both and place and take calls.
func TestTortureMessages(t *testing.T) {
	checkGoroutines(t)
	a := startCore(t, "alice", coreOpts{})
	b := startCore(t, "bob", coreOpts{})
	files, err := filepath.Glob(filepath.Join("..", "testdata", "rfc4475", "*", "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no torture messages in testdata/rfc4475: %v", err)
	}
	dst := fmt.Sprintf("127.0.0.1:%d", a.ua.Port)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	seen := map[string]bool{}
	// Every message at once, each over UDP from a socket of its own and over TCP on a connection
	// of its own, so that the whole run takes about one answer timeout. Own sockets also because
	// many of the RFC's messages share a branch, and the same branch from the same sent-by is a
	// retransmission, rightly answered with the first message's response.
	type result struct {
		name     string
		want     []int
		udp, tcp []int
		udpErr   error
		tcpErr   error
	}
	var results []*result
	var wg sync.WaitGroup
	tcpSlots := make(chan struct{}, sipua.MaxTCPConnsPerIP/2) // the listener's cap per address
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		want, known := tortureWant[name]
		if !known {
			t.Errorf("%s: no expectation in tortureWant", name)
			continue
		}
		seen[name] = true
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := &result{name: name, want: want}
		results = append(results, r)
		id := callID(msg)
		wg.Add(2)
		go func() {
			defer wg.Done()
			r.udp, r.udpErr = tortureUDP(msg, id, dst)
		}()
		go func() {
			defer wg.Done()
			tcpSlots <- struct{}{}
			defer func() { <-tcpSlots }()
			r.tcp, r.tcpErr = tortureTCP(msg, id, dst)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.udpErr != nil || r.tcpErr != nil {
			t.Fatalf("%s: %v, %v", r.name, r.udpErr, r.tcpErr)
		}
		checkTorture(t, r.name, "UDP", r.udp, r.want)
		checkTorture(t, r.name, "TCP", r.tcp, r.want)
	}
	for name := range tortureWant {
		if !seen[name] {
			t.Errorf("%s: expected in testdata/rfc4475 but missing", name)
		}
	}
	if st := a.mgr.Status(); len(st.Calls) != 0 {
		t.Errorf("torture messages created calls: %+v", st.Calls)
	}
	for _, r := range a.mgr.Recent() {
		t.Errorf("torture message left a call in the history: %+v", r)
	}
	// Still a working phone: OPTIONS over both transports, and calls both ways.
	if codes := optionsCodes(t, udp, dst); !slices.Equal(codes, []int{200}) {
		t.Errorf("OPTIONS over UDP after the torture messages: got %v, want [200]", codes)
	}
	opt := []byte(fmt.Sprintf("OPTIONS sip:alice@%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-tcp-after\r\n"+
		"From: <sip:t@127.0.0.1>;tag=after\r\nTo: <sip:alice@%s>\r\nCall-ID: after-torture-tcp\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", dst, dst))
	if codes, err := tortureTCP(opt, "after-torture-tcp", dst); err != nil || !slices.Equal(codes, []int{200}) {
		t.Errorf("OPTIONS over TCP after the torture messages: got %v (%v), want [200]", codes, err)
	}
	ca, _ := established(t, a, b)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
	_, ca = established(t, b, a)
	if err := a.mgr.Hangup(ctx(t), ca.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(5*time.Second, phone.CallEnded)
}

// tortureUDP sends msg from a new socket, its Via rewritten to name it, and returns the statuses
// of the answers with Call-ID id that arrive within a second.
func tortureUDP(msg []byte, id, dst string) ([]int, error) {
	src, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	to, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		return nil, err
	}
	if _, err := src.WriteToUDP(tortureFrom(msg, "UDP", src.LocalAddr().String()), to); err != nil {
		return nil, err
	}
	return readAnswers(src, id, time.Second), nil
}

// tortureTCP sends msg on a new connection, its Via rewritten to name it, and returns the
// statuses of the answers with Call-ID id within a second (or until the phone closes it).
func tortureTCP(msg []byte, id, dst string) ([]int, error) {
	c, err := net.Dial("tcp", dst)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Write(tortureFrom(msg, "TCP", c.LocalAddr().String())); err != nil {
		return nil, err
	}
	return readStreamCodes(c, id, time.Second), nil
}

// checkTorture compares the final statuses a torture message got with what RFC 4475 allows.
func checkTorture(t *testing.T, name, transport string, codes, want []int) {
	t.Helper()
	var final []int
	for _, c := range codes {
		if c >= 200 {
			final = append(final, c)
		}
	}
	t.Logf("%s over %s: responses %v", name, transport, codes)
	if gap, ok := tortureGaps[name]; ok && len(final) > 0 && final[0] == gap {
		t.Logf("%s over %s: %d, a known gap (tortureGaps)", name, transport, gap)
		return
	}
	switch {
	case len(final) > 1 && !allEqual(final):
		t.Errorf("%s over %s: several different final answers %v", name, transport, final)
	case slices.Contains(want, anyAnswer):
	case want == nil:
		valid := strings.HasPrefix(name, "valid/")
		for _, c := range final {
			if valid && c == 400 {
				t.Errorf("%s over %s: a valid message answered 400", name, transport)
			}
			if !valid && c < 300 {
				t.Errorf("%s over %s: an invalid message answered %d", name, transport, c)
			}
		}
	case len(final) == 0:
		if !slices.Contains(want, noAnswer) {
			t.Errorf("%s over %s: no answer, want one of %v", name, transport, want)
		}
	case !slices.Contains(want, final[0]):
		t.Errorf("%s over %s: answered %d, want one of %v (0: dropped)", name, transport, final[0], want)
	}
}

func allEqual(s []int) bool {
	for _, v := range s {
		if v != s[0] {
			return false
		}
	}
	return true
}

// optionsCodes sends a plain OPTIONS from conn and returns the statuses that came back.
func optionsCodes(t *testing.T, conn *net.UDPConn, dst string) []int {
	t.Helper()
	msg := fmt.Sprintf("OPTIONS sip:alice@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-after-torture;rport\r\n"+
		"From: <sip:t@127.0.0.1>;tag=after\r\nTo: <sip:alice@%s>\r\nCall-ID: after-torture\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", dst, conn.LocalAddr(), dst)
	to, _ := net.ResolveUDPAddr("udp", dst)
	if _, err := conn.WriteToUDP([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
	return readStatusCodes(conn, time.Second)
}

// readStatusCodes collects the status codes of responses arriving within d.
func readStatusCodes(conn *net.UDPConn, d time.Duration) []int {
	var codes []int
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return codes
		}
		if c, ok := statusCode(buf[:n]); ok {
			codes = append(codes, c)
		}
	}
}

// callIDLine finds a message's Call-ID (or its compact form i).
var callIDLine = regexp.MustCompile(`(?im)^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)`)

func callID(msg []byte) string {
	if m := callIDLine.FindSubmatch(msg); m != nil {
		return strings.TrimSpace(string(m[1]))
	}
	return ""
}

// readAnswers collects the status codes of responses with Call-ID id arriving within d (all of
// them when the request has none we can read), up to the first final one.
func readAnswers(conn *net.UDPConn, id string, d time.Duration) []int {
	var codes []int
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return codes
		}
		if got := callID(buf[:n]); id != "" && got != id {
			continue // a late answer to an earlier message
		}
		if c, ok := statusCode(buf[:n]); ok {
			codes = append(codes, c)
			if c >= 200 {
				return codes
			}
		}
	}
}

// readStreamCodes collects the status codes of the responses with Call-ID id on a TCP connection
// within d (a stream can carry answers to more than one message: dblreq.dat).
func readStreamCodes(c net.Conn, id string, d time.Duration) []int {
	var codes []int
	_ = c.SetReadDeadline(time.Now().Add(d))
	r := bufio.NewReader(c)
	code := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return codes
		}
		if c, ok := statusCode([]byte(line)); ok {
			code = c
		} else if got := callID([]byte(line)); got != "" && (id == "" || got == id) && code != 0 {
			codes = append(codes, code)
			code = 0
		}
	}
}

func statusCode(b []byte) (int, bool) {
	line, _, _ := strings.Cut(string(b), "\r\n")
	if f := strings.Fields(line); len(f) >= 2 && f[0] == "SIP/2.0" {
		if c, err := strconv.Atoi(f[1]); err == nil {
			return c, true
		}
	}
	return 0, false
}
