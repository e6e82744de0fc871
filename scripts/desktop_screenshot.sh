#!/usr/bin/env bash
# desktop_screenshot.sh [OUT.png]: regenerates the README's tray screenshot (default docs/tray.png)
# from the real binary: Xvfb + xfce4-panel + xfce4-notifyd (scripts/desktop_start.sh), a baresip
# calling trayphone, the tray menu opened with xdotool. Needs the packages of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-docs/tray.png}")
TRAYPHONE_SCREENSHOT=$OUT go test -count=1 -run '^TestScreenshot$' .
echo "desktop_screenshot: saved $OUT ($(du -h "$OUT" | cut -f1))"
