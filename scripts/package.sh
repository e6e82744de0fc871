#!/usr/bin/env bash
# package.sh builds what this machine can of trayphone's packages into dist/:
#   dist/trayphone_VERSION_ARCH.deb   the Linux binary (cgo: PortAudio, Opus, G.722, speexdsp),
#                                     its desktop entry (which also makes it the sip:, sips: and tel:
#                                     link handler), icons, a systemd user unit for headless use,
#                                     the README; built by nfpm, run as a Go module
#   dist/trayphone-VERSION-windows-amd64.zip  trayphone.exe (scripts/build_windows.sh; static,
#                                     no DLLs) and a short README; needs scripts/setup.sh --windows
#   dist/macos/trayphone.app          the app bundle (scripts/build_macos.sh), without its binary
#                                     when this is not a Mac
# Usage: scripts/package.sh [VERSION]   (default: 0.0.0~gitDATE.COMMIT)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
version=${1:-0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$(git rev-parse --short HEAD 2>/dev/null || echo local)}
mkdir -p dist build/linux

echo "package: Linux binary"
go build -trimpath -ldflags "-s -w" -o build/linux/trayphone .
arch=$(go env GOARCH)
deb=dist/trayphone_${version}_${arch}.deb
echo "package: $deb (nfpm)"
VERSION=$version ARCH=$arch \
  go run $NFPM package --config packaging/linux/nfpm.yaml --packager deb --target "$deb" >/dev/null
echo "package: $(du -h "$deb" | cut -f1) $deb"

if command -v x86_64-w64-mingw32-gcc >/dev/null; then
  scripts/build_windows.sh -o build/windows/zip/trayphone.exe
  cat > build/windows/zip/README.txt <<TXT
trayphone $version for Windows (64-bit)

trayphone.exe is the whole program: it needs no DLL besides Windows' own.
  trayphone.exe register-links    start at login and open sip:, sips: and tel: links
  trayphone.exe unregister-links  undo that
  trayphone.exe help              every command
Run it once to start the phone in the taskbar's notification area; its settings file is
%LOCALAPPDATA%\\trayphone\\config.toml (trayphone.exe status shows where).
What has and has not been tested on Windows: README.md, section "Windows".
TXT
  cp README.md build/windows/zip/README.md
  zip=dist/trayphone-${version}-windows-amd64.zip
  rm -f "$zip"
  (cd build/windows/zip && python3 -m zipfile -c "../../../$zip" trayphone.exe README.txt README.md)
  echo "package: $(du -h "$zip" | cut -f1) $zip"
else
  echo "package: no Windows zip: x86_64-w64-mingw32-gcc is missing (scripts/setup.sh --windows)"
fi

if [ -x scripts/build_macos.sh ]; then
  scripts/build_macos.sh
fi
