#!/usr/bin/env bash
# test_windows.sh runs the Windows build under Wine (Debian 12's Wine 8.0): trayphone.exe's help
# and CLI, the phone headless with its control pipe, SIP OPTIONS over TCP, registration with
# Kamailio over TCP and a call with audio to a Linux trayphone (TestWine* in wine_test.go).
# Two things are test-only, because Wine 8.0 lacks them and real Windows has them:
#   - bcryptprimitives.dll (ProcessPrng, which Go's runtime needs at start) is built with mingw
#     from packaging/windows/bcryptprimitives.c and copied into the private Wine prefix;
#   - the exe under test is built with a go build -overlay of Go's net/fd_windows.go that lets a
#     UDP socket open when WSAIoctl(SIO_UDP_NETRESET) fails with WSAEOPNOTSUPP (10045), as it
#     does in Wine; without it no UDP socket opens and the phone cannot start. The shipped exe
#     (dist/windows/trayphone.exe, scripts/build_windows.sh) has no overlay.
# The Wine prefix is created once (slow) and kept in build/windows/wine/prefix.
# Usage: scripts/test_windows.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
for p in wine wineserver x86_64-w64-mingw32-gcc; do
  command -v $p >/dev/null || { echo "test_windows: $p is missing: run scripts/setup.sh --windows" >&2; exit 1; }
done
w=$PWD/build/windows/wine
mkdir -p "$w"
export WINEPREFIX=$w/prefix WINEDEBUG=-all WINEARCH=win64
# No Wine Mono/Gecko install prompts, no sound driver (PortAudio then says there is no device),
# no debugger that would hold a crashed exe open.
export WINEDLLOVERRIDES="mscoree,mshtml=;winealsa.drv,winepulse.drv=d;winedbg.exe=d"
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT

x86_64-w64-mingw32-gcc -shared -O2 -Wl,--kill-at -o "$w/bcryptprimitives.dll" \
  packaging/windows/bcryptprimitives.c -ladvapi32
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "test_windows: creating the Wine prefix (once)"
  timeout 300 wineboot -i >/dev/null 2>&1
fi
cp "$w/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
# One wineserver for the whole run, started here: one that a test's wine command started would
# inherit that command's output pipe and keep it open.
wineserver -p >/dev/null 2>&1 </dev/null || true # fails when one is running already: fine

# The overlay: Go's own net/fd_windows.go with the SIO_UDP_NETRESET failure tolerated when the
# error is WSAEOPNOTSUPP. Made from this Go's source each run; a Go whose file differs stops here.
goroot=$(go env GOROOT)
python3 - "$goroot/src/net/fd_windows.go" "$w" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
s = open(src).read()
old = """windows.SIO_UDP_NETRESET, (*byte)(unsafe.Pointer(&flag)), size, nil, 0, &ret, nil, 0)
		if err != nil {"""
if s.count(old) != 1:
    sys.exit("test_windows: %s has changed: the Wine overlay needs updating" % src)
s = s.replace(old, old.replace("if err != nil {", "if err != nil && err != syscall.Errno(10045) { // WSAEOPNOTSUPP: Wine 8.0"))
# Not a .go name: build/ is inside the module, and go vet ./... would take it for a package.
open(out + "/fd_windows.go.overlay", "w").write(s)
json.dump({"Replace": {src: out + "/fd_windows.go.overlay"}}, open(out + "/overlay.json", "w"))
PY
scripts/build_windows.sh -o "$w/trayphone-winetest.exe" --overlay "$w/overlay.json"

echo "test_windows: go test -run TestWine (Wine $(wine --version))"
TRAYPHONE_WINE_EXE=$w/trayphone-winetest.exe timeout 600 go test -count=1 -p 1 -run 'TestWine' "$@" .
