#!/usr/bin/env bash
# The desktop app on a real X server (issue 18 item 1): `gsdesktop demo` under Xvfb with Qt's xcb platform
# (not offscreen) must map a window, then exit 0 on SIGTERM. Needs: xvfb xdotool x11-utils and the xcb
# libraries .ci/run installs. PYTHON selects the interpreter (default .venv/bin/python).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
for tool in Xvfb xdotool xwininfo; do
  command -v "$tool" >/dev/null || { echo "xcb-window-check: $tool missing (apt-get install xvfb xdotool x11-utils)" >&2; exit 1; }
done
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gsd-xcb.XXXXXX")"
DISPLAY_NUM=":$(( 90 + RANDOM % 100 ))"
XVFB_PID=""; APP_PID=""
cleanup() {
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do xdpyinfo -display "$DISPLAY_NUM" >/dev/null 2>&1 && break; sleep 0.2; done
export DISPLAY="$DISPLAY_NUM" QT_QPA_PLATFORM=xcb HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" \
  XDG_DATA_HOME="$WORK/home/.local/share" XDG_STATE_HOME="$WORK/home/.local/state" PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring
unset WAYLAND_DISPLAY
mkdir -p "$HOME"
"$PYTHON" -m gsdesktop demo --data-dir "$WORK/demo" >"$WORK/app.log" 2>&1 &
APP_PID=$!
if ! WID=$(timeout 120 xdotool search --sync --onlyvisible --name "GenomeSpace" | head -n1) || [ -z "$WID" ]; then
  echo "xcb-window-check: FAIL: no window mapped within 120 s; app log:" >&2; cat "$WORK/app.log" >&2; exit 1
fi
xwininfo -id "$WID" | grep -q "Map State: IsViewable" || { echo "xcb-window-check: FAIL: window $WID not viewable" >&2; exit 1; }
echo "xcb-window-check: window '$(xdotool getwindowname "$WID")' mapped on $DISPLAY_NUM (xcb)"
kill -TERM "$APP_PID"
code=0; wait "$APP_PID" || code=$?
APP_PID=""
[ "$code" = 0 ] || { echo "xcb-window-check: FAIL: exit $code after SIGTERM; app log:" >&2; cat "$WORK/app.log" >&2; exit 1; }
echo "xcb-window-check: OK"
