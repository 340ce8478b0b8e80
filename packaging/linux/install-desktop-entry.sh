#!/usr/bin/env bash
# Install (or remove) the GenomeSpace Desktop menu entry, icons and AppStream metadata for one user.
#
#   install-desktop-entry.sh [--exec /path/to/gsdesktop-gui] [--prefix DIR] [--uninstall]
#
# Works from the bundle (dist/gsdesktop/install-desktop-entry.sh; Exec defaults to the bundle's
# gsdesktop-gui) and from a source checkout (packaging/linux/; Exec defaults to `gsdesktop-gui` on PATH,
# e.g. from `pipx install`). --prefix defaults to ${XDG_DATA_HOME:-~/.local/share}; use
# --prefix /usr/local/share as root for every user. Installs:
#   <prefix>/applications/org.genomespace.Desktop.desktop
#   <prefix>/icons/hicolor/{16x16..512x512,scalable}/apps/org.genomespace.Desktop.{png,svg}
#   <prefix>/metainfo/org.genomespace.Desktop.metainfo.xml
set -euo pipefail
APP_ID="org.genomespace.Desktop"
here="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}"
EXEC="" UNINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --exec) EXEC="$2"; shift 2 ;;
    --prefix) PREFIX="$2"; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install-desktop-entry.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -d "$here/_internal/gsdesktop/resources" ]; then  # bundle top level
  TEMPLATES="$here/_internal/share/packaging/linux"
  ICONS="$here/_internal/gsdesktop/resources/icons"
  [ -n "$EXEC" ] || EXEC="$here/gsdesktop-gui"
elif [ -d "$here/../../resources/icons" ]; then  # source checkout: packaging/linux
  TEMPLATES="$here"
  ICONS="$(cd "$here/../../resources/icons" && pwd)"
  [ -n "$EXEC" ] || EXEC="$(command -v gsdesktop-gui || echo gsdesktop-gui)"
elif [ -d "$here/../../gsdesktop/resources/icons" ]; then  # inside a bundle's _internal/share/packaging/linux
  TEMPLATES="$here"
  ICONS="$(cd "$here/../../gsdesktop/resources/icons" && pwd)"
  [ -n "$EXEC" ] || EXEC="$(cd "$here/../../.." && pwd)/gsdesktop-gui"
else
  echo "install-desktop-entry.sh: cannot find the icons next to $here" >&2
  exit 2
fi

desktop_file="$PREFIX/applications/$APP_ID.desktop"
metainfo="$PREFIX/metainfo/$APP_ID.metainfo.xml"
sizes="16 22 24 32 48 64 128 256 512"

refresh() {
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$PREFIX/applications" 2>/dev/null || true
  fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$PREFIX/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$PREFIX/icons/hicolor" 2>/dev/null || true
  fi
}

if [ "$UNINSTALL" = 1 ]; then
  rm -f "$desktop_file" "$metainfo" "$PREFIX/icons/hicolor/scalable/apps/$APP_ID.svg"
  for s in $sizes; do rm -f "$PREFIX/icons/hicolor/${s}x${s}/apps/$APP_ID.png"; done
  refresh
  echo "removed the $APP_ID menu entry from $PREFIX"
  exit 0
fi

# Desktop Entry Exec quoting: quote the path when it has reserved characters; inside the quotes escape
# " ` $ \ with a backslash, then double every backslash for the string-value escaping of the file.
exec_field() {
  local p="$1"
  case "$p" in
    *[[:space:]\"\'\\\`\$\;\&\|\<\>\~\*\?\#\(\)]*)
      p="$(printf '%s' "$p" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/`/\\`/g' -e 's/\$/\\$/g')"
      p="\"$p\""
      p="$(printf '%s' "$p" | sed -e 's/\\/\\\\/g')"
      ;;
  esac
  printf '%s' "$p"
}

mkdir -p "$PREFIX/applications" "$PREFIX/metainfo" "$PREFIX/icons/hicolor/scalable/apps"
exec_value="$(exec_field "$EXEC")"
tmp="$(mktemp "$PREFIX/applications/.$APP_ID.XXXXXX")"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=*) printf 'Exec=%s\n' "$exec_value" ;;
    TryExec=*) printf 'TryExec=%s\n' "$(printf '%s' "$EXEC" | sed -e 's/\\/\\\\/g')" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$TEMPLATES/$APP_ID.desktop" >"$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$desktop_file"
install -m 644 "$TEMPLATES/$APP_ID.metainfo.xml" "$metainfo"
install -m 644 "$ICONS/gsdesktop.svg" "$PREFIX/icons/hicolor/scalable/apps/$APP_ID.svg"
for s in $sizes; do
  src="$ICONS/hicolor/${s}x${s}/apps/$APP_ID.png"
  [ -f "$src" ] || continue
  mkdir -p "$PREFIX/icons/hicolor/${s}x${s}/apps"
  install -m 644 "$src" "$PREFIX/icons/hicolor/${s}x${s}/apps/$APP_ID.png"
done
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$desktop_file"
fi
refresh
echo "installed $desktop_file (Exec=$exec_value)"
