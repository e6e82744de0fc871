#!/usr/bin/env python3
# Listener flood against a real trayphone binary (docs/SECURITY.md): RSS and open descriptors
# idle, with 2,000 idle TCP connections from 200 loopback addresses, 12 s later, and after 5,000
# UDP source addresses; OPTIONS over UDP and TCP throughout; log lines at the end.
# Usage: python3 bench/listener_flood.py BINARY PORT
import os, socket, subprocess, sys, time, tempfile, signal
binary = sys.argv[1]
home = tempfile.mkdtemp()
port = int(sys.argv[2])
env = dict(os.environ, XDG_RUNTIME_DIR=home)
p = subprocess.Popen([binary, "--home", home, "--listen", f"127.0.0.1:{port}", "--headless", "--audio-in", "null", "--audio-out", "null"],
                     stdout=subprocess.DEVNULL, stderr=open(home + "/log", "w"), env=env)
for _ in range(100):
    if os.path.exists(home + "/control.sock"): break
    time.sleep(0.1)
def stats():
    rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
    fds = len(os.listdir(f"/proc/{p.pid}/fd"))
    return int(rss), fds
def options(transport):
    msg = ("OPTIONS sip:x@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:1;branch=z9hG4bK-m%d;rport\r\nFrom: <sip:t@127.0.0.1>;tag=t1\r\n"
           "To: <sip:x@127.0.0.1>\r\nCall-ID: m-%f\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (port, transport, time.time()*1000, time.time())
    try:
        if transport == "UDP":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.bind(("127.0.0.1", 0))
            s.sendto(msg.replace("127.0.0.1:1", "127.0.0.1:%d" % s.getsockname()[1]).encode(), ("127.0.0.1", port))
            return s.recv(4096).split(b"\r\n")[0].decode()
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(msg.replace("127.0.0.1:1", "127.0.0.1:%d" % s.getsockname()[1]).encode())
        return s.recv(4096).split(b"\r\n")[0].decode()
    except Exception as e:
        return "no answer: %s" % e
print("idle:", stats(), "UDP OPTIONS:", options("UDP"), "TCP OPTIONS:", options("TCP"))
conns = []
for i in range(2000):
    c = socket.socket(); c.bind(("127.0.0.%d" % (2 + i % 200), 0)); c.connect(("127.0.0.1", port)); conns.append(c)
time.sleep(2)
print("2000 idle TCP open, after 2 s:", stats(), "UDP OPTIONS:", options("UDP"), "TCP OPTIONS:", options("TCP"))
time.sleep(10)
closed = 0
for c in conns:
    c.setblocking(False)
    try:
        d = c.recv(1)
        if d == b"": closed += 1
    except BlockingIOError: pass
    except OSError: closed += 1
print("after 12 s:", stats(), "server-closed:", closed, "of 2000")
for c in conns: c.close()
# many UDP sources
for i in range(5000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.%d.%d" % (2 + i // 250, 1 + i % 250), 0))
    s.sendto(b"\r\n\r\nX", ("127.0.0.1", port)); s.close()
time.sleep(1)
print("after 5000 UDP sources:", stats(), "UDP OPTIONS:", options("UDP"))
p.send_signal(signal.SIGINT); p.wait(timeout=10)
print("log lines:", sum(1 for _ in open(home + "/log")))
