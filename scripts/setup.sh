#!/usr/bin/env bash
# setup.sh installs the Debian packages trayphone's build, run and tests need (only the missing ones).
# Usage: scripts/setup.sh [--run-only] [--windows]
#   --windows also installs what building and testing the Windows exe needs (mingw-w64, Wine,
#   the tools that unpack and build Debian source packages) and a deb-src line for apt-get source.
set -euo pipefail
BUILD="pkg-config gcc portaudio19-dev libopus-dev libopusfile-dev libspandsp-dev libspeexdsp-dev"
PEERS="kamailio kamailio-tls-modules baresip-core coturn tshark sox libsox-fmt-all ffmpeg espeak-ng iproute2 iptables"
AUDIO="libasound2-plugins pipewire pipewire-bin pipewire-pulse wireplumber pulseaudio-utils"
DESKTOP="xvfb xauth x11-utils xfce4-panel dbus-daemon dbus-x11 systemd libglib2.0-bin imagemagick xdotool dunst xfce4-notifyd fonts-dejavu-core adwaita-icon-theme xdg-utils desktop-file-utils gnome-keyring"
WINDOWS="gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64 dpkg-dev autoconf automake libtool make python3"
pkgs="$BUILD"
run_only=no windows=no
for a in "$@"; do
  case $a in
    --run-only) run_only=yes ;;
    --windows) windows=yes ;;
    *) echo "usage: scripts/setup.sh [--run-only] [--windows]" >&2; exit 2 ;;
  esac
done
if [ $run_only = no ]; then pkgs="$pkgs $PEERS $AUDIO $DESKTOP"; fi
if [ $windows = yes ]; then pkgs="$pkgs $WINDOWS"; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
# apt-get source (scripts/build_windows.sh) needs the source index: add it once, beside the
# system's own lists, for the same suites.
src_list=/etc/apt/sources.list.d/trayphone-src.sources
new_src=no
if [ $windows = yes ] && ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding $src_list (deb-src, for apt-get source)"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$(. /etc/os-release && echo "$VERSION_CODENAME")" "$(. /etc/os-release && echo "$VERSION_CODENAME")" | $SUDO tee "$src_list" >/dev/null
  new_src=yes
fi
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ $new_src = yes ]; then
  echo "setup: installing ${missing[*]:-(nothing new; updating the package lists)}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH=$PATH:/usr/local/go/bin; }
command -v go >/dev/null || { echo "setup: Go 1.22+ is required (https://go.dev/dl)"; exit 1; }
