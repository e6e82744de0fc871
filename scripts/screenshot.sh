#!/usr/bin/env bash
# screenshot.sh OUT.png [-d SECONDS] [-m] -- COMMAND...: brings up a private desktop (Xvfb,
# xfce4-panel, xfce4-notifyd), runs COMMAND in it, waits (default 3 s), optionally opens the tray
# menu (-m: clicks the right-most panel icon), saves the root window to OUT.png, and tears down.
set -euo pipefail
OUT=${1:?usage: screenshot.sh OUT.png [-d SECONDS] [-m] -- COMMAND...}; shift
DELAY=3; MENU=0
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in -d) DELAY=$2; shift 2 ;; -m) MENU=1; shift ;; *) echo "screenshot: unknown flag $1" >&2; exit 2 ;; esac
done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "screenshot: no command" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d)
trap '[ -n "${CPID:-}" ] && kill "$CPID" 2>/dev/null; "$HERE/desktop_stop.sh" "$D"; rm -rf "$D"' EXIT
eval "$(NOTIFYD=xfce4-notifyd "$HERE/desktop_start.sh" "$D")"
"$@" > "$D/command.log" 2>&1 & CPID=$!
sleep "$DELAY"
if [ "$MENU" = 1 ]; then
  # The tray icon is the right-most item of the 32 px panel at the top of the screen.
  W=$(xdpyinfo | awk '/dimensions:/ {split($2, a, "x"); print a[1]}')
  xdotool mousemove $((W - 16)) 16 click 1
  sleep 1
fi
import -window root "$OUT"
echo "screenshot: saved $OUT"
