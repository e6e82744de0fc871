#!/usr/bin/env bash
# desktop_start.sh DIR: a private headless desktop for tray and notification tests.
# Starts Xvfb on a free display, a private session dbus-daemon, xfce4-panel (its systray plugin is the
# StatusNotifierItem host and owns org.kde.StatusNotifierWatcher) with the config in testdata/desktop/,
# and, if NOTIFYD=xfce4-notifyd or NOTIFYD=dunst, that notification daemon. PIDs go to DIR/*.pid;
# stop everything with scripts/desktop_stop.sh DIR. Prints the environment for clients:
#   eval "$(scripts/desktop_start.sh /tmp/desk)"
set -euo pipefail
D=${1:?usage: desktop_start.sh DIR}
mkdir -p "$D"; D=$(cd "$D" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for p in Xvfb dbus-daemon xfce4-panel busctl; do
  command -v $p >/dev/null || { echo "desktop_start: $p is not installed (run scripts/setup.sh)" >&2; exit 1; }
done
export XDG_RUNTIME_DIR=$D/run HOME=$D/home XDG_CONFIG_HOME=$D/config XDG_CACHE_HOME=$D/cache
mkdir -p "$XDG_RUNTIME_DIR" "$HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"; chmod 700 "$XDG_RUNTIME_DIR"
cp -r "$ROOT/testdata/desktop/." "$XDG_CONFIG_HOME/"

# Xvfb picks a free display itself and writes its number to fd 3.
exec 3> "$D/display"
Xvfb -displayfd 3 -screen 0 1024x600x24 -nolisten tcp > "$D/xvfb.log" 2>&1 &
echo $! > "$D/xvfb.pid"
exec 3>&-
for _ in $(seq 100); do [ -s "$D/display" ] && break; sleep 0.1; done
[ -s "$D/display" ] || { echo "desktop_start: Xvfb did not start (see $D/xvfb.log)" >&2; exit 1; }
export DISPLAY=:$(head -n1 "$D/display")

dbus-daemon --session --fork --print-pid=1 --address="unix:path=$XDG_RUNTIME_DIR/bus" > "$D/dbus.pid"
export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus

cat > "$D/env.sh" <<ENV
export DISPLAY=$DISPLAY DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS
export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR HOME=$HOME XDG_CONFIG_HOME=$XDG_CONFIG_HOME XDG_CACHE_HOME=$XDG_CACHE_HOME
ENV

xfce4-panel > "$D/panel.log" 2>&1 &
echo $! > "$D/panel.pid"
for _ in $(seq 100); do
  busctl --user list 2>/dev/null | grep -q org.kde.StatusNotifierWatcher && break; sleep 0.1
done
busctl --user list 2>/dev/null | grep -q org.kde.StatusNotifierWatcher ||
  { echo "desktop_start: xfce4-panel did not own org.kde.StatusNotifierWatcher (see $D/panel.log)" >&2; exit 1; }

case "${NOTIFYD:-}" in
  xfce4-notifyd)
    nd=$(command -v xfce4-notifyd || true)
    for c in /usr/lib/*/xfce4/notifyd/xfce4-notifyd /usr/lib/xfce4/notifyd/xfce4-notifyd; do
      [ -n "$nd" ] || { [ -x "$c" ] && nd=$c; }
    done
    [ -n "$nd" ] || { echo "desktop_start: xfce4-notifyd not found" >&2; exit 1; }
    "$nd" > "$D/notifyd.log" 2>&1 & echo $! > "$D/notifyd.pid" ;;
  dunst)
    dunst > "$D/dunst.log" 2>&1 & echo $! > "$D/dunst.pid" ;;
  "") ;;
  *) echo "desktop_start: NOTIFYD must be xfce4-notifyd or dunst" >&2; exit 1 ;;
esac
if [ -n "${NOTIFYD:-}" ]; then
  for _ in $(seq 100); do
    busctl --user list 2>/dev/null | grep -q org.freedesktop.Notifications && break; sleep 0.1
  done
fi
cat "$D/env.sh"
