#!/usr/bin/env bash
# desktop_install.sh [--uninstall]: installs trayphone's desktop entry for the current user (Linux,
# XDG): $XDG_DATA_HOME/applications/trayphone.desktop (from packaging/linux/), its icon, and makes it
# the default handler of sip:, sips: and tel: links (xdg-mime). TRAYPHONE_BIN=/path/to/trayphone
# puts that absolute path in Exec= (default: "trayphone" from PATH). Touches nothing outside
# $XDG_DATA_HOME and $XDG_CONFIG_HOME/mimeapps.list.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APP=$DATA/applications/trayphone.desktop
ICON=$DATA/icons/hicolor/64x64/apps/trayphone.png
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$APP" "$ICON"
  command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" 2>/dev/null || true
  echo "desktop_install: removed $APP"
  exit 0
fi
mkdir -p "$(dirname "$APP")" "$(dirname "$ICON")"
BIN=${TRAYPHONE_BIN:-}
if [ -n "$BIN" ]; then
  BIN=$(realpath "$BIN")
  case "$BIN" in
    *[!A-Za-z0-9/._+-]*)
      # Exec= quoting (Desktop Entry Specification): double-quote, escape " ` $ \ inside. Old
      # xdg-open (1.1) cannot run a quoted Exec: install to a plain path for it.
      Q=\"$(printf '%s' "$BIN" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/[|&]/\\&/g')\" ;;
    *) Q=$BIN ;;
  esac
  sed "s|^Exec=trayphone |Exec=$Q |" "$ROOT/packaging/linux/trayphone.desktop" > "$APP"
else
  cp "$ROOT/packaging/linux/trayphone.desktop" "$APP"
fi
cp "$ROOT/assets/icons/idle-64.png" "$ICON"
command -v desktop-file-validate >/dev/null && desktop-file-validate "$APP"
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" 2>/dev/null || true
for s in sip sips tel; do xdg-mime default trayphone.desktop "x-scheme-handler/$s"; done
echo "desktop_install: installed $APP; sip:, sips: and tel: links now open trayphone"
