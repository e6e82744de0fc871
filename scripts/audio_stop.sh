#!/usr/bin/env bash
# audio_stop.sh stops the private PipeWire that audio_start.sh DIR started: only the PIDs it recorded
# in DIR. Usage: scripts/audio_stop.sh DIR
if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
D=$1
for f in pipewire-pulse wireplumber pipewire; do
  if [ -f "$D/$f.pid" ]; then kill "$(cat "$D/$f.pid")" 2> /dev/null; rm -f "$D/$f.pid"; fi
done
if [ -f "$D/dbus.txt" ]; then
  pid=$(sed -n 2p "$D/dbus.txt")
  [ -n "$pid" ] && kill "$pid" 2> /dev/null
  rm -f "$D/dbus.txt"
fi
true
