#!/usr/bin/env bash
# desktop_stop.sh DIR: stops what desktop_start.sh DIR started, by recorded PIDs only.
D=${1:?usage: desktop_stop.sh DIR}
for f in notifyd dunst panel; do [ -f "$D/$f.pid" ] && kill "$(cat "$D/$f.pid")" 2>/dev/null; done
sleep 0.3
# xfconfd and the panel's plugin wrappers were D-Bus-activated on our private bus: end its clients.
if [ -f "$D/env.sh" ]; then
  . "$D/env.sh"
  for p in $(busctl --user list 2>/dev/null | awk 'NR>1 && $2 ~ /^[0-9]+$/ {print $2}' | sort -u); do
    [ "$p" = "$(cat "$D/dbus.pid" 2>/dev/null)" ] || kill "$p" 2>/dev/null
  done
fi
[ -f "$D/dbus.pid" ] && kill "$(cat "$D/dbus.pid")" 2>/dev/null
[ -f "$D/xvfb.pid" ] && kill "$(cat "$D/xvfb.pid")" 2>/dev/null
rm -f "$D"/*.pid
exit 0
