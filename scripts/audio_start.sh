#!/usr/bin/env bash
# audio_start.sh starts a private PipeWire + WirePlumber + pipewire-pulse with a 48 kHz mono null sink
# whose monitor is the default source, so what is played comes back as capture. It needs no sound card.
# Usage: eval "$(scripts/audio_start.sh DIR)"   (DIR: a scratch directory; stop with audio_stop.sh DIR)
# It prints the export lines clients need (XDG_RUNTIME_DIR, PULSE_SERVER, DBUS_SESSION_BUS_ADDRESS and
# HOME, whose .asoundrc routes ALSA's "default" PCM to the pulse plugin, as a desktop does).
# Adapted from ../shared/infra/pipewire_start.sh; works as root on Debian 12.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
mkdir -p "$1"
D=$(cd "$1" && pwd)
export XDG_RUNTIME_DIR=$D/xdg HOME=$D/home
mkdir -p "$XDG_RUNTIME_DIR" "$HOME" "$D/state"
chmod 700 "$XDG_RUNTIME_DIR"
# Keep PipeWire's and WirePlumber's state out of the real user's directories.
export XDG_CONFIG_HOME=$D/home/.config XDG_STATE_HOME=$D/state XDG_DATA_HOME=$D/home/.local/share
cat > "$HOME/.asoundrc" <<'ASOUND'
pcm.!default { type pulse }
ctl.!default { type pulse }
ASOUND

fail() {
  echo "audio_start: $1" >&2
  for f in pipewire wireplumber pipewire-pulse; do [ -f "$D/$f.log" ] && sed "s/^/  $f: /" "$D/$f.log" | tail -n 15 >&2; done
  "$(dirname "$0")/audio_stop.sh" "$D" >&2 || true
  exit 1
}

dbus-daemon --session --fork --print-address=1 --print-pid=1 --address="unix:path=$XDG_RUNTIME_DIR/bus" > "$D/dbus.txt" \
  || fail "dbus-daemon did not start"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
# setsid: the daemons must not share the caller's process group (a test runner may signal it).
setsid pipewire > "$D/pipewire.log" 2>&1 < /dev/null & echo $! > "$D/pipewire.pid"
for i in $(seq 50); do [ -S "$XDG_RUNTIME_DIR/pipewire-0" ] && break; sleep 0.1; done
[ -S "$XDG_RUNTIME_DIR/pipewire-0" ] || fail "pipewire did not create its socket"
setsid wireplumber > "$D/wireplumber.log" 2>&1 < /dev/null & echo $! > "$D/wireplumber.pid"
setsid pipewire-pulse > "$D/pipewire-pulse.log" 2>&1 < /dev/null & echo $! > "$D/pipewire-pulse.pid"
export PULSE_SERVER=unix:$XDG_RUNTIME_DIR/pulse/native
ok=
for i in $(seq 100); do pactl info > /dev/null 2>&1 && { ok=1; break; }; sleep 0.1; done
[ -n "$ok" ] || fail "pipewire-pulse did not answer"
pactl load-module module-null-sink sink_name=nullsink object.linger=1 media.class=Audio/Sink \
  channel_map=mono rate=48000 > "$D/nullsink.module" || fail "could not load the null sink"
ok=
for i in $(seq 50); do
  pactl set-default-sink nullsink 2> /dev/null && pactl set-default-source nullsink.monitor 2> /dev/null \
    && pactl info | grep -q 'Default Source: nullsink.monitor' && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "could not make nullsink the default sink and nullsink.monitor the default source"
cat <<OUT
export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR
export PULSE_SERVER=$PULSE_SERVER
export DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS
export HOME=$HOME
OUT
