#!/usr/bin/env bash
# build_macos.sh makes dist/macos/trayphone.app: Contents/Info.plist (packaging/macos/Info.plist:
# LSUIElement, the sip:, sips: and tel: URL types, the microphone prompt's text), the icon
# (assets/icons/trayphone.icns, made by go run ./assets/gen) and the binary in Contents/MacOS.
# On a Mac the binary is built with cgo (the menu-bar item is fyne.io/systray's Cocoa code); on
# any other system it is cross-compiled without cgo, for GOARCH (default arm64): such a binary
# runs headless (no menu-bar item, no sound card, no Opus or G.722, as a build without cgo says).
# The bundle is not signed or notarized.
# Usage: scripts/build_macos.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
version=${1:-0.0.0}
app=dist/macos/trayphone.app
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist >"$app/Contents/Info.plist"
# A malformed Info.plist makes Finder refuse the app without saying why: parse it here.
python3 -c 'import plistlib,sys; d=plistlib.load(open(sys.argv[1],"rb")); assert d["LSUIElement"] is True and d["CFBundleExecutable"]=="trayphone"' \
  "$app/Contents/Info.plist"
cp assets/icons/trayphone.icns "$app/Contents/Resources/trayphone.icns"
printf 'APPL????' >"$app/Contents/PkgInfo"
arch=${GOARCH:-arm64}
if [ "$(uname -s)" = Darwin ]; then
  CGO_ENABLED=1 GOOS=darwin GOARCH=$arch go build -trimpath -o "$app/Contents/MacOS/trayphone" .
  echo "build_macos: $app ($arch, with cgo)"
else
  CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go build -trimpath -ldflags "-s -w" -o "$app/Contents/MacOS/trayphone" .
  echo "build_macos: $app ($arch, cross-compiled without cgo: runs headless)"
fi
