// Package kamailio starts a real Kamailio as a registrar + proxy with digest auth for tests, from the
// configuration the project ships in testdata/kamailio, on loopback ports the test chooses, with its
// own ctl socket, and reads its location table. It is a test helper: import it only from _test.go
// files.
//
//	k := kamailio.Start(t, kamailio.Options{TLS: true})
//	// register sip:alice@<k.Domain()> via k.Registrar() with password alicepw ...
//	contacts, _ := k.Contacts("alice")
//
// With Options.Presence it is also a presence server for voicemail (message-summary) and dialog
// events, fed by PUBLISH and by pua_dialoginfo for the calls it routes.
//
// Users (testdata/kamailio/db/subscriber): alice/alicepw, bob/bobpw, carol/carolpw. The
// configuration authenticates REGISTER (401) and requests from its own users (407), record-routes
// INVITEs, fixes NATed contacts (fix_nated_register) and also accepts example.org as its domain.
//
// # What was seen (Debian 12, kamailio 5.6.3)
//
// Start-up until the ctl socket answers takes 150-400 ms on a loaded 2-core machine. A killed
// instance (SIGKILL) loses its location table (usrloc db_mode 0): a restarted one knows nobody
// until they register again. TLS needs the kamailio-tls-modules package (tls.so).
package kamailio

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"trayphone/internal/siptest/pgroup"
	"trayphone/internal/testenv"
)

// Options choose what the instance offers.
type Options struct {
	// TLS adds a TLS listener with a self-signed certificate generated for 127.0.0.1.
	TLS bool
	// NetNS, if set, runs Kamailio inside that network namespace (ip netns exec); its ctl socket
	// is a file, so Contacts and Requests work from the test as usual. The ports are then fixed
	// (15060, 15061): the namespace is the test's own.
	NetNS string
	// IP is the address to listen on (default 127.0.0.1).
	IP string
	// Presence loads the presence modules (Debian package kamailio-presence-modules): a
	// presence server for message-summary (presence_mwi) and dialog (presence_dialoginfo)
	// events that takes PUBLISH and SUBSCRIBE for its domain, and pua_dialoginfo publishing the
	// state of every call the proxy routes. State lives in db_text tables under the instance's
	// directory.
	Presence bool
}

// presenceModules are the modules Options.Presence needs beyond the base configuration's.
var presenceModules = []string{"presence", "presence_mwi", "presence_dialoginfo", "pua", "pua_dialoginfo", "dialog"}

// modulesDir is where Debian installs Kamailio's modules.
const modulesDir = "/usr/lib/x86_64-linux-gnu/kamailio/modules"

// Kamailio is one running (or stopped) Kamailio instance.
type Kamailio struct {
	t       testing.TB
	opts    Options
	bin     string
	kamcmd  string
	dir     string
	cfg     string
	ip      netip.Addr
	port    uint16
	tlsPort uint16
	// CertPEM is the TLS server certificate (PEM) when Options.TLS is set.
	CertPEM []byte
	// Fingerprint is the SHA-256 of the TLS certificate (DER), lowercase hex, when Options.TLS is set.
	Fingerprint string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs []string // log files of every run, in order
}

// Start runs Kamailio for t and returns once its ctl socket answers. It skips (locally) or fails
// (in CI) when kamailio is not installed. The instance is killed in t.Cleanup; its log goes to the
// test log when t failed.
func Start(t testing.TB, o Options) *Kamailio {
	t.Helper()
	bin := testenv.RequireProgram(t, "kamailio")
	kamcmd := testenv.RequireProgram(t, "kamcmd")
	if o.TLS {
		if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so"); err != nil {
			testenv.Missing(t, "Kamailio's tls.so (Debian package kamailio-tls-modules)")
		}
	}
	if o.Presence {
		for _, m := range presenceModules {
			if _, err := os.Stat(filepath.Join(modulesDir, m+".so")); err != nil {
				testenv.Missing(t, "Kamailio's "+m+".so (Debian package kamailio-presence-modules; scripts/setup.sh installs it)")
			}
		}
	}
	k := &Kamailio{t: t, opts: o, bin: bin, kamcmd: kamcmd, ip: netip.MustParseAddr("127.0.0.1")}
	if o.IP != "" {
		ip, err := netip.ParseAddr(o.IP)
		if err != nil {
			t.Fatalf("kamailio: IP %q: %v", o.IP, err)
		}
		k.ip = ip
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		k.dir = t.TempDir()
		if err := k.prepare(); err != nil {
			t.Fatalf("kamailio: %v", err)
		}
		if lastErr = k.run(); lastErr == nil {
			t.Cleanup(func() {
				k.Kill()
				if t.Failed() {
					t.Logf("--- kamailio log ---\n%s", k.Log())
				}
			})
			return k
		}
		k.Kill()
		if !strings.Contains(k.Log(), "in use") {
			break
		}
		t.Logf("kamailio: attempt %d lost a port race; retrying", attempt+1)
	}
	t.Fatalf("kamailio: %v\n--- log ---\n%s", lastErr, k.Log())
	return nil
}

// prepare picks ports and writes the configuration, the user database and the TLS files.
func (k *Kamailio) prepare() error {
	port, tlsPort, err := uint16(15060), uint16(15061), error(nil)
	if k.opts.NetNS == "" {
		if port, tlsPort, err = pickPorts(k.ip); err != nil {
			return err
		}
	}
	k.port, k.tlsPort = port, tlsPort
	src := repoFile("testdata/kamailio")
	tmpl, err := os.ReadFile(filepath.Join(src, "kamailio.cfg"))
	if err != nil {
		return err
	}
	cfg := strings.NewReplacer("@LISTEN_IP@", k.ip.String(), "@SIP_PORT@", strconv.Itoa(int(port)),
		"@TLS_PORT@", strconv.Itoa(int(tlsPort)), "@BASEDIR@", k.dir).Replace(string(tmpl))
	k.cfg = filepath.Join(k.dir, "kamailio.cfg")
	if err := os.WriteFile(k.cfg, []byte(cfg), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(k.dir, "db"), 0o700); err != nil {
		return err
	}
	tables := []string{"subscriber", "version"}
	if k.opts.Presence {
		tables = append(tables, "presentity", "active_watchers", "watchers", "xcap", "pua")
	}
	for _, f := range tables {
		b, err := os.ReadFile(filepath.Join(src, "db", f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(k.dir, "db", f), b, 0o600); err != nil {
			return err
		}
	}
	if k.opts.TLS {
		if err := k.writeTLS(); err != nil {
			return err
		}
	}
	return nil
}

// writeTLS generates a self-signed ECDSA certificate for the listen IP and Kamailio's tls.cfg.
func (k *Kamailio) writeTLS() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "trayphone test registrar"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IP(k.ip.AsSlice())},
		DNSNames:     []string{"example.org"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(der)
	k.Fingerprint = hex.EncodeToString(sum[:])
	k.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	certPath, keyPath := filepath.Join(k.dir, "cert.pem"), filepath.Join(k.dir, "key.pem")
	if err := os.WriteFile(certPath, k.CertPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	tlsCfg := fmt.Sprintf("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"+
		"private_key = %s\ncertificate = %s\n\n[client:default]\nverify_certificate = no\nrequire_certificate = no\n",
		keyPath, certPath)
	return os.WriteFile(filepath.Join(k.dir, "tls.cfg"), []byte(tlsCfg), 0o600)
}

// run starts the process and waits until the ctl socket answers.
func (k *Kamailio) run() error {
	k.mu.Lock()
	logPath := filepath.Join(k.dir, fmt.Sprintf("kamailio-%d.log", len(k.logs)+1))
	k.logs = append(k.logs, logPath)
	k.mu.Unlock()
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"-f", k.cfg, "-DD", "-E", "-m", "64", "-M", "8", "-P", filepath.Join(k.dir, "kamailio.pid")}
	if k.opts.TLS {
		args = append(args, "-A", "WITH_TLS")
	}
	if k.opts.Presence {
		args = append(args, "-A", "WITH_PRESENCE")
	}
	cmd := exec.Command(k.bin, args...)
	if k.opts.NetNS != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", k.opts.NetNS, k.bin}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	pgroup.Set(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // exits with the process
	k.mu.Lock()
	k.cmd, k.done = cmd, done
	k.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("kamailio exited during start-up")
		default:
		}
		if _, err := k.ctl("core.uptime"); err == nil {
			return nil
		}
		time.Sleep(30 * time.Millisecond)
	}
	return errors.New("kamailio's ctl socket did not answer within 10 s")
}

// Kill stops the instance at once (SIGKILL to its process group) and waits for it to exit. It
// is safe to call on a stopped instance.
func (k *Kamailio) Kill() {
	k.mu.Lock()
	cmd, done := k.cmd, k.done
	k.cmd = nil
	k.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = pgroup.Kill(cmd)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if k.opts.NetNS != "" {
		return // its ports are in the namespace, which the test removes
	}
	// Children may outlive the main process for a moment; wait until the ports are free.
	for i := 0; i < 100; i++ {
		if portsFree(k.ip, k.port) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts a killed instance again with the same configuration and ports.
func (k *Kamailio) Restart() {
	k.t.Helper()
	k.Kill()
	if err := k.run(); err != nil {
		k.t.Fatalf("kamailio restart: %v\n--- log ---\n%s", err, k.Log())
	}
}

// Addr is the UDP and TCP listen address.
func (k *Kamailio) Addr() netip.AddrPort { return netip.AddrPortFrom(k.ip, k.port) }

// TLSAddr is the TLS listen address (Options.TLS only).
func (k *Kamailio) TLSAddr() netip.AddrPort { return netip.AddrPortFrom(k.ip, k.tlsPort) }

// Domain is the SIP domain users register in: the listen IP:port (example.org works too).
func (k *Kamailio) Domain() string { return k.Addr().String() }

// Log returns the logs of every run so far, joined.
func (k *Kamailio) Log() string {
	k.mu.Lock()
	logs := append([]string(nil), k.logs...)
	k.mu.Unlock()
	var b strings.Builder
	for i, p := range logs {
		data, _ := os.ReadFile(p)
		if i > 0 {
			fmt.Fprintf(&b, "--- restart %d ---\n", i)
		}
		b.Write(data)
	}
	return b.String()
}

// Requests counts the requests of method (e.g. "REGISTER") Kamailio has received, over all runs,
// from its "REQ METHOD URI from ..." log lines; retransmissions count too.
func (k *Kamailio) Requests(method string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(k.Log()))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "REQ "+method+" ") {
			n++
		}
	}
	return n
}

// Contact is one binding in the location table.
type Contact struct {
	AOR      string // the user name (usrloc use_domain is off)
	Address  string // the Contact URI
	Expires  int    // seconds left
	Received string // source address recorded by fix_nated_register, if any
	Socket   string // Kamailio's socket, e.g. udp:127.0.0.1:5060
}

// Contacts returns the location table's bindings for user ("" for all), via "kamcmd ul.dump".
func (k *Kamailio) Contacts(user string) ([]Contact, error) {
	out, err := k.ctl("ul.dump")
	if err != nil {
		return nil, err
	}
	return parseULDump(out, user), nil
}

// parseULDump reads kamcmd's ul.dump output: nested "Key: value" lines.
func parseULDump(out, user string) []Contact {
	var res []Contact
	var aor string
	var cur *Contact
	flush := func() {
		if cur != nil && (user == "" || cur.AOR == user) {
			res = append(res, *cur)
		}
		cur = nil
	}
	for _, line := range strings.Split(out, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "AoR":
			flush()
			aor = val
		case "Address":
			flush()
			cur = &Contact{AOR: aor, Address: val}
		case "Expires":
			if cur != nil {
				cur.Expires, _ = strconv.Atoi(val)
			}
		case "Received":
			if cur != nil && val != "[not set]" {
				cur.Received = val
			}
		case "Socket":
			if cur != nil {
				cur.Socket = val
			}
		}
	}
	flush()
	return res
}

// ctl runs one kamcmd command on this instance's ctl socket.
func (k *Kamailio) ctl(args ...string) (string, error) {
	cmd := exec.Command(k.kamcmd, append([]string{"-s", "unix:" + filepath.Join(k.dir, "kamailio_ctl")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kamcmd %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// pickPorts finds a port P free for UDP and TCP (and a TLS port) in 12000-19999, a range other
// helpers and the kernel's ephemeral ports do not use.
func pickPorts(ip netip.Addr) (sip, tls uint16, err error) {
	for range 200 {
		p := uint16(12000 + 2*mrand.IntN(4000))
		if portsFree(ip, p) && portsFree(ip, p+1) {
			return p, p + 1, nil
		}
	}
	return 0, 0, errors.New("no free port pair found")
}

func portsFree(ip netip.Addr, p uint16) bool {
	ap := netip.AddrPortFrom(ip, p).String()
	c, err := net.ListenPacket("udp", ap)
	if err != nil {
		return false
	}
	c.Close()
	l, err := net.Listen("tcp", ap)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// repoFile returns the absolute path of rel inside the repository.
func repoFile(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", rel)
}
