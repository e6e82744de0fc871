#!/usr/bin/env bash
# setup.sh installs the Debian packages trayphone's build, run and tests need (only the missing ones).
# Usage: scripts/setup.sh [--run-only]
set -euo pipefail
BUILD="pkg-config gcc portaudio19-dev libopus-dev libopusfile-dev libspandsp-dev libspeexdsp-dev"
PEERS="kamailio kamailio-tls-modules kamailio-presence-modules baresip-core coturn tshark sox libsox-fmt-all ffmpeg espeak-ng iproute2 iptables"
AUDIO="libasound2-plugins pipewire pipewire-bin pipewire-pulse wireplumber pulseaudio-utils"
DESKTOP="xvfb xauth x11-utils xfce4-panel dbus-daemon dbus-x11 systemd libglib2.0-bin imagemagick xdotool dunst xfce4-notifyd fonts-dejavu-core adwaita-icon-theme xdg-utils desktop-file-utils gnome-keyring"
pkgs="$BUILD"
if [ "${1:-}" != "--run-only" ]; then pkgs="$pkgs $PEERS $AUDIO $DESKTOP"; fi
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH=$PATH:/usr/local/go/bin; }
command -v go >/dev/null || { echo "setup: Go 1.22+ is required (https://go.dev/dl)"; exit 1; }
