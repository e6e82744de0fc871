// Package baresip starts and drives a real baresip process as the far end of a SIP call in tests.
// It is a test helper: import it only from _test.go files.
//
//	bob := baresip.Start(t, baresip.Options{User: "bob", ToneHz: 600})
//	// ... make our phone call bob.URI() ...
//	ev, err := bob.WaitEvent(baresip.CallEstablished, 5*time.Second)
//	// ... hang up, wait CALL_CLOSED, then analyse bob.RecordedReceived()
//
// Each instance gets its own config directory under t.TempDir() (config, accounts, a generated
// tone WAV, rec/ for the sndfile dumps, baresip.log), its own SIP port P (baresip also listens
// on TCP P+1 for TLS, so P and P+1 are checked) and its own ctrl_tcp port. The process runs
// headless: no stdio UI module, stdin is /dev/null, the player is aubridge,nullplay (alsa,null
// busy-loops), and the account is created with "uanew" over ctrl_tcp after connecting, so its
// REGISTER_OK/REGISTER_FAIL event is seen.
//
// # What was seen (Debian 12 package baresip-core)
//
// Version: "baresip v1.0.0 Copyright (C) 2010 - 2020 Alfred E. Heggestad et al." (baresip -h and
// the first log line). Start-up (exec until ctrl_tcp accepts and uanew has answered) takes
// 35-220 ms on a loaded 2-core machine (~0.5 s with Opus: the 60 s 48 kHz stereo source is
// 11.5 MB); a direct loopback call (dial → CALL_ESTABLISHED on both sides)
// takes 12-15 ms; after "quit" the process exits within ~10 ms when idle (we kill it after 2 s).
// Against an unreachable registrar REGISTER_FAIL ("Connection timed out") comes after 32 s
// (SIP timer F), so tests of failed registration want a registrar that answers 403.
//
// Recordings: the sndfile module writes two files per call into rec/, named after the local wall
// clock at second resolution:
//
//	dump-YYYY-MM-DD-HH-MM-SS-dec.wav  what baresip received and decoded (the far end's audio)
//	dump-YYYY-MM-DD-HH-MM-SS-enc.wav  what baresip encoded and sent
//
// e.g. dump-2026-11-22-14-42-47-dec.wav. Both are 16-bit PCM at the codec's rate and channels
// (8000 Hz mono for PCMU/PCMA). The log line "sndfile: dumping decode audio to PATH" names them;
// RecordedReceived/RecordedSent use it. The RIFF sizes are only written when the call's audio
// stream is closed, so read them after CALL_CLOSED, and prefer `sox --ignore-length` anyway.
// Two calls that start in the same second write the same names: the second overwrites the first.
//
// ctrl_tcp quirks: messages are netstrings ("<len>:<json>,"); commands are
// {"command":"dial","params":"sip:...","token":"t1"} and the response echoes the token
// ({"response":true,"ok":true,"data":"...","token":"t1"}); events are
// {"event":true,"type":"CALL_ESTABLISHED","class":"call","accountaor":...,"direction":...,
// "peeruri":...,"id":...,"param":...}. It serves ONE connection: a second connection replaces
// the first, so this package keeps one connection for the life of the process and
// multiplexes responses (by token) and events on it. Events can arrive before the response
// of the command that caused them (CALL_LOCAL_SDP arrives before dial's response). Besides the
// documented call events baresip 1.0 also sends CALL_LOCAL_SDP, CALL_REMOTE_SDP, CALL_RTPESTAB,
// CALL_RTCP (periodically) and EXIT (on quit). The caller sees CALL_RINGING, the auto-answering
// callee does not; a manual callee sees CALL_INCOMING. An unknown command gets "ok":false.
//
// Other quirks: audio_codecs needs name/rate/channels for Opus ("opus" alone means opus/8000/1
// and is "not found"), so Options.Codecs names are translated. aufile does not resample: a
// source WAV whose rate differs from the negotiated codec's makes baresip 1.0 log "must have
// sample-rate" and stop all its user agents, so the call never establishes. Error lines in the
// log carry ANSI colour escapes.
package baresip

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/siptest/pgroup"
	"trayphone/internal/testenv"
)

// Event types baresip 1.0 sends over ctrl_tcp (not exhaustive).
const (
	CallIncoming    = "CALL_INCOMING"
	CallRinging     = "CALL_RINGING"
	CallProgress    = "CALL_PROGRESS"
	CallEstablished = "CALL_ESTABLISHED"
	CallClosed      = "CALL_CLOSED"
	CallDTMFStart   = "CALL_DTMF_START"
	CallDTMFEnd     = "CALL_DTMF_END"
	CallRTPEstab    = "CALL_RTPESTAB"
	CallRTCP        = "CALL_RTCP"
	RegisterOK      = "REGISTER_OK"
	RegisterFail    = "REGISTER_FAIL"
	Unregistering   = "UNREGISTERING"
)

// Options configures one baresip instance. The zero value (plus User) is a direct-call-only
// far end on 127.0.0.1 that auto-answers and sends a 1000 Hz tone with PCMU/PCMA.
type Options struct {
	// User is the user part of the account (e.g. "bob"). Default "baresip".
	User string
	// Password is the digest password (auth_pass) used with Registrar.
	Password string
	// Registrar is host:port of a registrar. Empty: no registration (regint=0), direct calls only,
	// and the account's AOR is sip:User@BindIP:port.
	Registrar string
	// SourceWAV is the audio baresip sends. It must match the codec's rate and channels (baresip
	// 1.0 does not resample): 8 kHz mono for PCMU/PCMA, 16 kHz mono for G.722, 48 kHz stereo
	// for Opus. Default: a generated 60 s tone of ToneHz in the format of Codecs[0]. The call
	// ends by itself when the file ends.
	SourceWAV string
	// AudioSource and AudioPlayer replace the file source and the null player with another
	// baresip audio driver and its device, e.g. "alsa,pulse:DEVICE=mic.monitor" (the ALSA pulse
	// plugin to a sound server's source); the alsa module is loaded when either names it.
	// SourceWAV is then not sent (the recordings still are made).
	AudioSource, AudioPlayer string
	// ToneHz is the frequency of the generated source tone. Default 1004 (ITU-T O.132's test
	// tone: 1000 Hz at 8 kHz repeats the same eight sample phases, which G.711 codes worse).
	ToneHz float64
	// Codecs lists baresip codec names in preference order: "pcmu", "pcma", "opus", "g722".
	// Default pcmu,pcma.
	Codecs []string
	// AnswerMode is "auto" (answer incoming calls at once) or "manual" (wait for Accept).
	// Default "auto".
	AnswerMode string
	// BindIP is the address baresip binds and advertises. Default 127.0.0.1.
	BindIP string
	// NetNS, if set, runs baresip inside that network namespace (ip netns exec) on fixed ports
	// (SIP 25060, ctrl_tcp 25070 on the namespace's loopback); Dial must then reach into it.
	NetNS string
	// SIPPort and CtrlPort replace the fixed ports of NetNS, so two baresips can share a namespace
	// (each also binds SIPPort+1).
	SIPPort, CtrlPort uint16
	// MediaEnc is the account's media encryption (baresip's mediaenc): "" for none, "srtp"
	// (SDES keys offered over RTP/AVP, best effort), "srtp-mand" (RTP/SAVP, mandatory),
	// "srtp-mandf" (RTP/SAVPF, mandatory) or "dtls_srtp" (DTLS-SRTP). Its module is loaded.
	MediaEnc string
	// Dial opens the ctrl_tcp connection (default net.DialTimeout with 1 s); with NetNS it must
	// dial from inside the namespace.
	Dial func(network, addr string) (net.Conn, error)
}

// Event is one ctrl_tcp event.
type Event struct {
	Type       string          `json:"type"`
	Class      string          `json:"class"`
	AccountAOR string          `json:"accountaor"`
	Direction  string          `json:"direction"`
	PeerURI    string          `json:"peeruri"`
	ID         string          `json:"id"`
	Param      string          `json:"param"`
	Raw        json.RawMessage `json:"-"`
	At         time.Time       `json:"-"`
}

// Baresip is a running baresip process with its ctrl_tcp connection.
type Baresip struct {
	t        testing.TB
	opts     Options
	dir      string
	recDir   string
	logPath  string
	ip       netip.Addr
	sipPort  uint16
	ctrlPort uint16
	started  time.Time

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	conn net.Conn

	wmu sync.Mutex // serialises writes on conn

	mu       sync.Mutex
	tokenSeq int
	pending  map[string]chan json.RawMessage
	queue    []Event       // events not yet consumed by WaitEvent
	history  []Event       // every event, in order
	notify   chan struct{} // closed and replaced on every new event and on close
	closed   bool
	closeErr error
	readDone chan struct{}
}

// Start runs a baresip far end for t and returns once its ctrl_tcp connection is up and the
// account exists. It skips (locally) or fails (in CI) when baresip is not installed. The process
// is stopped in t.Cleanup, and its log is written to the test log when t failed.
func Start(t testing.TB, o Options) *Baresip {
	t.Helper()
	bin := testenv.RequireProgram(t, "baresip")
	o = o.withDefaults()
	ip, err := netip.ParseAddr(o.BindIP)
	if err != nil {
		t.Fatalf("baresip: BindIP %q: %v", o.BindIP, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir := t.TempDir()
		b := &Baresip{
			t: t, opts: o, dir: dir, ip: ip,
			recDir:   filepath.Join(dir, "rec"),
			logPath:  filepath.Join(dir, "baresip.log"),
			pending:  map[string]chan json.RawMessage{},
			notify:   make(chan struct{}),
			readDone: make(chan struct{}),
		}
		if err := b.start(bin); err != nil {
			lastErr = err
			log := b.Log()
			b.stop()
			if strings.Contains(log, "in use") { // lost a port race with another process: retry
				t.Logf("baresip %s: attempt %d: %v; retrying with other ports", o.User, attempt+1, err)
				continue
			}
			t.Fatalf("baresip %s: %v\n--- baresip log ---\n%s", o.User, err, log)
		}
		t.Cleanup(func() {
			b.stop()
			if t.Failed() {
				t.Logf("--- baresip %s (%s) log ---\n%s", o.User, b.URI(), b.Log())
			}
		})
		return b
	}
	t.Fatalf("baresip %s: %v", o.User, lastErr)
	return nil
}

func (o Options) withDefaults() Options {
	if o.User == "" {
		o.User = "baresip"
	}
	if o.ToneHz == 0 {
		o.ToneHz = 1004
	}
	if len(o.Codecs) == 0 {
		o.Codecs = []string{"pcmu", "pcma"}
	}
	if o.AnswerMode == "" {
		o.AnswerMode = "auto"
	}
	if o.BindIP == "" {
		o.BindIP = "127.0.0.1"
	}
	return o
}

func (b *Baresip) start(bin string) error {
	b.started = time.Now()
	if err := os.MkdirAll(b.recDir, 0o755); err != nil {
		return err
	}
	src := b.opts.SourceWAV
	if src == "" {
		rate, ch := codecFormat(b.opts.Codecs[0])
		src = filepath.Join(b.dir, "source.wav")
		if err := writeToneWAV(src, b.opts.ToneHz, rate, ch, 60*time.Second); err != nil {
			return err
		}
	} else if abs, err := filepath.Abs(src); err == nil {
		src = abs
	}
	sip, ctrl, err := uint16(25060), uint16(25070), error(nil)
	if b.opts.SIPPort != 0 && b.opts.CtrlPort != 0 {
		sip, ctrl = b.opts.SIPPort, b.opts.CtrlPort
	} else if b.opts.NetNS == "" {
		if sip, ctrl, err = pickPorts(b.ip); err != nil {
			return err
		}
	}
	b.sipPort, b.ctrlPort = sip, ctrl
	if err := os.WriteFile(filepath.Join(b.dir, "config"), []byte(b.config(src)), 0o644); err != nil {
		return err
	}
	for _, f := range []string{"accounts", "contacts"} {
		if err := os.WriteFile(filepath.Join(b.dir, f), nil, 0o644); err != nil {
			return err
		}
	}
	logf, err := os.Create(b.logPath)
	if err != nil {
		return err
	}
	defer logf.Close() // the child keeps its own descriptor
	b.cmd = exec.Command(bin, "-f", b.dir)
	if b.opts.NetNS != "" {
		b.cmd = exec.Command("ip", "netns", "exec", b.opts.NetNS, bin, "-f", b.dir)
	}
	b.cmd.Dir = b.dir
	b.cmd.Stdin = nil // /dev/null
	b.cmd.Stdout = logf
	b.cmd.Stderr = logf
	pgroup.Set(b.cmd)
	if err := b.cmd.Start(); err != nil {
		return err
	}
	b.done = make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(b.done) }()

	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.ctrlPort).String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		dial := b.opts.Dial
		if dial == nil {
			dial = func(network, addr string) (net.Conn, error) { return net.DialTimeout(network, addr, time.Second) }
		}
		c, err := dial("tcp", addr)
		if err == nil {
			b.conn = c
			break
		}
		select {
		case <-b.done:
			return fmt.Errorf("exited during start-up (%v)", b.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ctrl_tcp %s not accepting after 10s: %v", addr, err)
		}
	}
	go b.readLoop()
	if _, err := b.Command("uanew", b.accountLine()); err != nil {
		return fmt.Errorf("uanew: %w", err)
	}
	b.t.Logf("baresip %s: %s ready in %v (dir %s)", b.opts.User, b.URI(), time.Since(b.started).Round(time.Millisecond), b.dir)
	return nil
}

// codecFormat is the source format baresip 1.0 needs for a codec (it does not resample).
func codecFormat(codec string) (rate, channels int) {
	switch strings.ToLower(codec) {
	case "opus":
		return 48000, 2
	case "g722":
		return 16000, 1
	default:
		return 8000, 1
	}
}

func (b *Baresip) config(src string) string {
	modules := []string{"g711.so"}
	for _, c := range b.opts.Codecs {
		switch strings.ToLower(c) {
		case "opus":
			modules = append(modules, "opus.so")
		case "g722":
			modules = append(modules, "g722.so")
		}
	}
	modules = append(modules, "aufile.so", "sndfile.so", "aubridge.so")
	switch {
	case strings.HasPrefix(b.opts.MediaEnc, "srtp"):
		modules = append(modules, "srtp.so")
	case strings.HasPrefix(b.opts.MediaEnc, "dtls_srtp"):
		modules = append(modules, "dtls_srtp.so")
	}
	player, source := "aubridge,nullplay", "aufile,"+src
	if b.opts.AudioPlayer != "" {
		player = b.opts.AudioPlayer
	}
	if b.opts.AudioSource != "" {
		source = b.opts.AudioSource
	}
	if strings.HasPrefix(player, "alsa,") || strings.HasPrefix(source, "alsa,") {
		modules = append(modules, "alsa.so")
	}
	var s strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&s, "%-23s %s\n", k, v) }
	kv("poll_method", "epoll")
	kv("sip_listen", netip.AddrPortFrom(b.ip, b.sipPort).String())
	kv("call_local_timeout", "120")
	kv("call_max_calls", "4")
	kv("audio_player", player)
	kv("audio_alert", "aubridge,nullplay")
	kv("audio_source", source)
	kv("audio_level", "no")
	kv("ausrc_format", "s16")
	kv("auplay_format", "s16")
	kv("auenc_format", "s16")
	kv("audec_format", "s16")
	kv("audio_buffer", "20-160")
	kv("rtcp_mux", "no")
	kv("jitter_buffer_delay", "5-10")
	kv("rtp_stats", "yes")
	kv("rtp_timeout", "10")
	kv("net_interface", b.ip.String())
	kv("dns_server", "127.0.0.1:53")
	kv("module_path", "/usr/lib/baresip/modules")
	for _, m := range modules {
		kv("module", m)
	}
	kv("module_tmp", "uuid.so")
	kv("module_tmp", "account.so")
	kv("module_app", "contact.so")
	kv("module_app", "menu.so")
	kv("module_app", "ctrl_tcp.so")
	kv("module_app", "debug_cmd.so")
	kv("ctrl_tcp_listen", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.ctrlPort).String())
	kv("snd_path", b.recDir)
	kv("opus_bitrate", "28000")
	return s.String()
}

func (b *Baresip) accountLine() string {
	o := b.opts
	var s strings.Builder
	if o.Registrar == "" {
		fmt.Fprintf(&s, "<sip:%s@%s;transport=udp>;regint=0", o.User, netip.AddrPortFrom(b.ip, b.sipPort))
	} else {
		fmt.Fprintf(&s, "<sip:%s@%s;transport=udp>;regint=600", o.User, o.Registrar)
		if o.Password != "" {
			fmt.Fprintf(&s, ";auth_pass=%s", o.Password)
		}
	}
	codecs := make([]string, len(o.Codecs))
	for i, c := range o.Codecs {
		codecs[i] = codecSpec(c)
	}
	fmt.Fprintf(&s, ";answermode=%s;audio_codecs=%s", o.AnswerMode, strings.Join(codecs, ","))
	if o.MediaEnc != "" {
		fmt.Fprintf(&s, ";mediaenc=%s", o.MediaEnc)
	}
	return s.String()
}

// codecSpec turns a codec name into the name/rate/channels form audio_codecs needs: baresip 1.0
// reads a bare "opus" as opus/8000/1 and finds no such codec.
func codecSpec(name string) string {
	switch n := strings.ToLower(name); n {
	case "opus":
		return "opus/48000/2"
	case "g722":
		return "g722/16000/1"
	default:
		return n
	}
}

// pickPorts finds a SIP port P whose UDP and TCP P and TCP/UDP P+1 are free on ip, and a free
// TCP ctrl port on 127.0.0.1 at least 2 away. Ports come from 20000-31999, below the Linux
// ephemeral range, so that kernel-assigned ports of other tests do not take them.
func pickPorts(ip netip.Addr) (sip, ctrl uint16, err error) {
	free := func(ip netip.Addr, p uint16, udp bool) bool {
		ap := netip.AddrPortFrom(ip, p).String()
		if udp {
			c, err := net.ListenPacket("udp", ap)
			if err != nil {
				return false
			}
			c.Close()
			return true
		}
		l, err := net.Listen("tcp", ap)
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	lo := netip.MustParseAddr("127.0.0.1")
	for range 200 {
		p := uint16(20000 + 2*rand.IntN(6000))
		if free(ip, p, true) && free(ip, p, false) && free(ip, p+1, true) && free(ip, p+1, false) {
			sip = p
			break
		}
	}
	if sip == 0 {
		return 0, 0, errors.New("no free SIP port pair found")
	}
	for range 200 {
		p := uint16(20000 + rand.IntN(12000))
		if p+1 >= sip && p <= sip+2 {
			continue
		}
		if free(lo, p, false) {
			return sip, p, nil
		}
	}
	return 0, 0, errors.New("no free ctrl_tcp port found")
}

// writeToneWAV writes a 16-bit PCM sine at -6 dBFS (the same on every channel).
func writeToneWAV(path string, hz float64, rate, channels int, d time.Duration) error {
	frames := int(d.Seconds() * float64(rate))
	data := make([]byte, 44+frames*channels*2)
	le := binary.LittleEndian
	copy(data[0:], "RIFF")
	le.PutUint32(data[4:], uint32(len(data)-8))
	copy(data[8:], "WAVEfmt ")
	le.PutUint32(data[16:], 16)
	le.PutUint16(data[20:], 1)
	le.PutUint16(data[22:], uint16(channels))
	le.PutUint32(data[24:], uint32(rate))
	le.PutUint32(data[28:], uint32(rate*channels*2))
	le.PutUint16(data[32:], uint16(channels*2))
	le.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	le.PutUint32(data[40:], uint32(frames*channels*2))
	// Compute one second and repeat it: cheap even for 60 s of 48 kHz stereo under -race, and
	// seamless for whole-hertz tones.
	period := rate * channels * 2
	for i := range rate {
		v := int16(math.Round(16383 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))))
		for c := range channels {
			le.PutUint16(data[44+i*channels*2+c*2:], uint16(v))
		}
	}
	for off := 44 + period; off < len(data); off += period {
		copy(data[off:], data[44:44+period])
	}
	return os.WriteFile(path, data, 0o644)
}

func (b *Baresip) readLoop() {
	defer close(b.readDone)
	r := bufio.NewReader(b.conn)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			b.mu.Lock()
			b.closed = true
			b.closeErr = err
			for tok, ch := range b.pending {
				close(ch)
				delete(b.pending, tok)
			}
			close(b.notify)
			b.notify = make(chan struct{})
			b.mu.Unlock()
			return
		}
		var head struct {
			Response bool   `json:"response"`
			Event    bool   `json:"event"`
			Token    string `json:"token"`
		}
		if err := json.Unmarshal(msg, &head); err != nil {
			continue
		}
		switch {
		case head.Response:
			b.mu.Lock()
			ch := b.pending[head.Token]
			delete(b.pending, head.Token)
			b.mu.Unlock()
			if ch != nil {
				ch <- json.RawMessage(msg)
			}
		case head.Event:
			ev := Event{Raw: json.RawMessage(msg), At: time.Now()}
			_ = json.Unmarshal(msg, &ev)
			b.mu.Lock()
			b.queue = append(b.queue, ev)
			b.history = append(b.history, ev)
			close(b.notify)
			b.notify = make(chan struct{})
			b.mu.Unlock()
		}
	}
}

// Command sends a ctrl_tcp command (e.g. "dial", "sip:bob@..."; "reginfo", "") and returns
// baresip's whole response object, e.g. {"response":true,"ok":true,"data":"...","token":"t3"}.
// A response with "ok":false is returned together with an error carrying its data.
func (b *Baresip) Command(cmd, params string) (json.RawMessage, error) {
	b.mu.Lock()
	if b.closed {
		err := b.closeErr
		b.mu.Unlock()
		return nil, fmt.Errorf("baresip %s: ctrl_tcp closed: %v", b.opts.User, err)
	}
	b.tokenSeq++
	tok := "t" + strconv.Itoa(b.tokenSeq)
	ch := make(chan json.RawMessage, 1)
	b.pending[tok] = ch
	b.mu.Unlock()

	req, err := json.Marshal(map[string]string{"command": cmd, "params": params, "token": tok})
	if err != nil {
		return nil, err
	}
	b.wmu.Lock()
	_ = b.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = b.conn.Write(appendNetstring(nil, req))
	b.wmu.Unlock()
	if err != nil {
		b.mu.Lock()
		delete(b.pending, tok)
		b.mu.Unlock()
		return nil, fmt.Errorf("baresip %s: %s: %w", b.opts.User, cmd, err)
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("baresip %s: %s: ctrl_tcp closed before the response", b.opts.User, cmd)
		}
		var r struct {
			OK   bool   `json:"ok"`
			Data string `json:"data"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			return resp, fmt.Errorf("baresip %s: %s: bad response %s: %w", b.opts.User, cmd, resp, err)
		}
		if !r.OK {
			return resp, fmt.Errorf("baresip %s: %s %s: %s", b.opts.User, cmd, params, strings.TrimSpace(r.Data))
		}
		return resp, nil
	case <-timer.C:
		b.mu.Lock()
		delete(b.pending, tok)
		b.mu.Unlock()
		return nil, fmt.Errorf("baresip %s: %s: no response within 10s", b.opts.User, cmd)
	}
}

// Dial calls uri (e.g. another instance's URI()).
func (b *Baresip) Dial(uri string) error { _, err := b.Command("dial", uri); return err }

// Accept answers the incoming call (AnswerMode "manual").
func (b *Baresip) Accept() error { _, err := b.Command("accept", ""); return err }

// Hangup ends (or rejects, or cancels) the current call.
func (b *Baresip) Hangup() error { _, err := b.Command("hangup", ""); return err }

// WaitEvent returns the oldest queued event of type typ, waiting up to timeout for one. Events of
// other types stay queued for later calls; every event also stays in Events().
func (b *Baresip) WaitEvent(typ string, timeout time.Duration) (Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		for i, ev := range b.queue {
			if ev.Type == typ {
				b.queue = append(b.queue[:i:i], b.queue[i+1:]...)
				b.mu.Unlock()
				return ev, nil
			}
		}
		if b.closed {
			err := b.closeErr
			b.mu.Unlock()
			return Event{}, fmt.Errorf("baresip %s: waiting for %s: ctrl_tcp closed: %v", b.opts.User, typ, err)
		}
		notify := b.notify
		b.mu.Unlock()
		select {
		case <-notify:
		case <-deadline.C:
			return Event{}, fmt.Errorf("baresip %s: no %s within %v (events so far: %s)", b.opts.User, typ, timeout, b.eventTypes())
		}
	}
}

func (b *Baresip) eventTypes() string {
	var s []string
	for _, ev := range b.Events() {
		if ev.Type != CallRTCP {
			s = append(s, ev.Type)
		}
	}
	return strings.Join(s, " ")
}

// Events returns every event received so far, in order (consumed or not).
func (b *Baresip) Events() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Event(nil), b.history...)
}

// URI is the instance's direct SIP URI, sip:user@ip:port (dial it without a registrar).
func (b *Baresip) URI() string {
	return "sip:" + b.opts.User + "@" + netip.AddrPortFrom(b.ip, b.sipPort).String()
}

// AOR is the account's address of record: sip:user@Registrar, or URI() without a registrar.
func (b *Baresip) AOR() string {
	if b.opts.Registrar == "" {
		return b.URI()
	}
	return "sip:" + b.opts.User + "@" + b.opts.Registrar
}

// Addr is the SIP (UDP/TCP) listen address.
func (b *Baresip) Addr() netip.AddrPort { return netip.AddrPortFrom(b.ip, b.sipPort) }

// Dir is the instance's config directory (config, accounts, rec/, baresip.log).
func (b *Baresip) Dir() string { return b.dir }

var dumpRE = regexp.MustCompile(`sndfile: dumping (encode|decode) audio to (\S+)`)

// recorded returns the path of the last call's sndfile dump of kind "decode" or "encode", from
// the log, or else the newest matching file in rec/. It returns "" when there is none.
func (b *Baresip) recorded(kind, suffix string) string {
	path := ""
	for _, m := range dumpRE.FindAllStringSubmatch(b.Log(), -1) {
		if m[1] == kind {
			path = m[2]
		}
	}
	if path != "" {
		return path
	}
	files, _ := filepath.Glob(filepath.Join(b.recDir, "dump-*-"+suffix+".wav"))
	sort.Strings(files) // names are timestamps
	if len(files) == 0 {
		return ""
	}
	return files[len(files)-1]
}

// RecordedReceived is the path of the last call's rec/dump-<time>-dec.wav: the audio baresip
// received and decoded. Read it after CALL_CLOSED (its RIFF sizes are written on close).
func (b *Baresip) RecordedReceived() string { return b.recorded("decode", "dec") }

// RecordedReceivedAll is the paths of every call's rec/dump-<time>-dec.wav so far, oldest
// first (from the log): the audio baresip received in each call.
func (b *Baresip) RecordedReceivedAll() []string {
	var out []string
	for _, m := range dumpRE.FindAllStringSubmatch(b.Log(), -1) {
		if m[1] == "decode" {
			out = append(out, m[2])
		}
	}
	return out
}

// RecordedSent is the path of the last call's rec/dump-<time>-enc.wav: the audio baresip
// encoded and sent.
func (b *Baresip) RecordedSent() string { return b.recorded("encode", "enc") }

// Log returns baresip's stdout and stderr so far.
func (b *Baresip) Log() string {
	data, _ := os.ReadFile(b.logPath)
	return string(data)
}

// stop asks baresip to quit over ctrl_tcp, kills it after 2 s, and closes the connection.
func (b *Baresip) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	if b.conn != nil {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if !closed {
			b.wmu.Lock()
			req, _ := json.Marshal(map[string]string{"command": "quit", "params": "", "token": "quit"})
			_ = b.conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = b.conn.Write(appendNetstring(nil, req))
			b.wmu.Unlock()
		}
	}
	t0 := time.Now()
	select {
	case <-b.done:
		b.t.Logf("baresip %s: exited %v after quit", b.opts.User, time.Since(t0).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		b.t.Logf("baresip %s: still running 2s after quit; killing it", b.opts.User)
		_ = pgroup.Kill(b.cmd)
		<-b.done
	}
	if b.conn != nil {
		b.conn.Close()
		<-b.readDone
	}
}
