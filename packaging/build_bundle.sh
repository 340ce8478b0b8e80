#!/usr/bin/env bash
# Build the Linux one-folder bundle with PyInstaller into dist/gsdesktop/ and smoke-test it.
#
#   packaging/build_bundle.sh [--skip-build] [--no-server] [--archive]
#
#   --skip-build  only smoke-test an existing dist/gsdesktop/
#   --no-server   build without the server stack and SeaweedFS (GSD_BUNDLE_SERVER=0); the smoke test
#                 then expects `server` to be absent or to fail with a clear one-line message
#   --archive     also write dist/gsdesktop-<version>-linux-<arch>.tar.gz
#
# Environment: PYTHON (interpreter with PyInstaller and the app's dependencies; default .venv/bin/python,
# then /work/venv/bin/python, then python3), GSD_DIST / GSD_BUILD (output and work folders; default
# dist/ and build/pyinstaller/), GSD_SMOKE_TIMEOUT (seconds for the GUI to come up, 60).
# The smoke test runs the executables from dist/ in an empty working directory with a throw-away HOME:
#   1. gsdesktop --version prints the version of gsdesktop/__init__.py
#   2. gsdesktop server --help exits 0; with the server stack: the bundled SeaweedFS runs, and
#      `gsdesktop server run` (embedded SeaweedFS) serves a login, then exits 0 on SIGTERM
#   3. install-desktop-entry.sh from the bundle writes a valid entry pointing at the bundle
#   4. the GUI (gsdesktop-gui, QT_QPA_PLATFORM=offscreen, first-run wizard) starts, stays up, and exits
#      with status 0 within 20 s of SIGTERM without a traceback
#   5. with the server stack: `gsdesktop demo` (embedded server + app) syncs the sample files into its
#      folder, then exits 0 on SIGTERM leaving no SeaweedFS behind
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

SKIP_BUILD=0 WITH_SERVER=1 ARCHIVE=0
for arg in "$@"; do
  case "$arg" in
    --skip-build) SKIP_BUILD=1 ;;
    --no-server) WITH_SERVER=0 ;;
    --archive) ARCHIVE=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build_bundle.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ -z "${PYTHON:-}" ]; then
  for cand in "$ROOT/.venv/bin/python" /work/venv/bin/python python3; do
    if command -v "$cand" >/dev/null 2>&1; then PYTHON="$cand"; break; fi
  done
fi
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' gsdesktop/__init__.py)"
[ -n "$VERSION" ] || { echo "build_bundle.sh: no __version__ in gsdesktop/__init__.py" >&2; exit 2; }
DIST="${GSD_DIST:-$ROOT/dist}"
WORKPATH="${GSD_BUILD:-$ROOT/build/pyinstaller}"
BUNDLE="$DIST/gsdesktop"

log() { printf '[build_bundle] %s\n' "$*"; }
fail() { printf '[build_bundle] FAIL: %s\n' "$*" >&2; exit 1; }

if [ "$SKIP_BUILD" = 0 ]; then
  "$PYTHON" -c "import PyInstaller" 2>/dev/null \
    || fail "PyInstaller is not installed for $PYTHON (pip install 'pyinstaller>=6.5')"
  log "building gsdesktop $VERSION with $("$PYTHON" -m PyInstaller --version) (server: $WITH_SERVER)"
  start=$(date +%s)
  GSD_BUNDLE_SERVER="$WITH_SERVER" "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORKPATH" packaging/gsdesktop.spec
  # the menu-entry installer belongs at the bundle's top level, next to the executables
  install -m 755 packaging/linux/install-desktop-entry.sh "$BUNDLE/install-desktop-entry.sh"
  log "build time: $(( $(date +%s) - start )) s"
fi
[ -x "$BUNDLE/gsdesktop" ] && [ -x "$BUNDLE/gsdesktop-gui" ] || fail "no executables in $BUNDLE"
log "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1), $(find "$BUNDLE" -type f | wc -l) files)"

# --- smoke test ---------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gsd-smoke.XXXXXX")"
GUI_PID=""
cleanup() {
  if [ -n "$GUI_PID" ] && kill -0 "$GUI_PID" 2>/dev/null; then kill -KILL "$GUI_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/home" "$WORK/cwd"
# A clean environment: nothing from the source tree or the build venv can leak into the frozen app.
run_env=(env -i "PATH=/usr/bin:/bin" "HOME=$WORK/home" "LANG=C.UTF-8" "TMPDIR=$WORK"
  "XDG_CONFIG_HOME=$WORK/home/.config" "XDG_DATA_HOME=$WORK/home/.local/share"
  "XDG_CACHE_HOME=$WORK/home/.cache" "XDG_STATE_HOME=$WORK/home/.local/state"
  "XDG_RUNTIME_DIR=$WORK/runtime" "QT_QPA_PLATFORM=offscreen")
mkdir -m 700 "$WORK/runtime"

out="$(cd "$WORK/cwd" && "${run_env[@]}" "$BUNDLE/gsdesktop" --version 2>&1)" || fail "--version exited non-zero: $out"
[ "$out" = "gsdesktop $VERSION" ] || fail "--version printed '$out', expected 'gsdesktop $VERSION'"
log "ok: gsdesktop --version -> $out"

if out="$(cd "$WORK/cwd" && "${run_env[@]}" "$BUNDLE/gsdesktop" server --help 2>&1)"; then
  grep -q "usage: gsdesktop server" <<<"$out" || fail "server --help printed no usage: $out"
  log "ok: gsdesktop server --help"
elif [ "$WITH_SERVER" = 0 ]; then
  grep -q Traceback <<<"$out" && fail "server --help crashed: $out"
  log "ok: gsdesktop server --help refused without the server stack: $(head -1 <<<"$out")"
else
  fail "server --help exited non-zero: $out"
fi

if [ "$WITH_SERVER" = 1 ]; then
  [ -x "$BUNDLE/_internal/bin/weed" ] || fail "SeaweedFS binary missing from the bundle"
  "$BUNDLE/_internal/bin/weed" version >/dev/null 2>&1 || fail "bundled weed does not run"
  log "ok: bundled SeaweedFS runs ($("$BUNDLE/_internal/bin/weed" version 2>&1 | head -1))"

  # The server from the bundle: embedded SeaweedFS + API, a login over HTTP, clean exit on SIGTERM.
  port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  (cd "$WORK/cwd" && exec "${run_env[@]}" GSDESKTOP_DEMO_PASSWORD=smoke-Passw0rd "$BUNDLE/gsdesktop" server run \
    --data-dir "$WORK/srv" --port "$port" --demo-user smoke >"$WORK/srv.out" 2>"$WORK/srv.err") &
  SRV_PID=$!
  if ! "$PYTHON" - "$port" "$SRV_PID" <<'PYEOF'
import base64, os, sys, time, urllib.error, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
auth = base64.b64encode(b"smoke:smoke-Passw0rd").decode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/identityServer/basic", headers={"Authorization": f"Basic {auth}"})
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("server exited")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            token = resp.read().decode()
        if resp.status == 200 and len(token) > 10:
            sys.exit(0)
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.5)
sys.exit("no login within 90 s")
PYEOF
  then
    kill -KILL "$SRV_PID" 2>/dev/null || true
    fail "bundled server did not serve a login; stderr: $(tail -20 "$WORK/srv.err")"
  fi
  kill -TERM "$SRV_PID"
  rc=""
  for _ in $(seq 1 120); do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then wait "$SRV_PID" && rc=0 || rc=$?; break; fi
    sleep 0.25
  done
  [ -n "$rc" ] || { kill -KILL "$SRV_PID"; fail "bundled server still running 30 s after SIGTERM"; }
  [ "$rc" = 0 ] || fail "bundled server exited with status $rc on SIGTERM; stderr: $(tail -20 "$WORK/srv.err")"
  sleep 1
  for cmdline in /proc/[0-9]*/cmdline; do  # no pgrep: procps is not on minimal systems
    if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -qF "$WORK/srv/seaweedfs"; then
      fail "SeaweedFS outlived the bundled server: $(tr '\0' ' ' <"$cmdline")"
    fi
  done
  log "ok: bundled server (embedded SeaweedFS) served a login and exited with status 0 on SIGTERM"
fi

out="$("${run_env[@]}" "$BUNDLE/install-desktop-entry.sh" --prefix "$WORK/share" 2>&1)" \
  || fail "install-desktop-entry.sh failed: $out"
grep -qx "Exec=$BUNDLE/gsdesktop-gui" "$WORK/share/applications/org.genomespace.Desktop.desktop" \
  || fail "installed .desktop entry does not point at $BUNDLE/gsdesktop-gui"
[ -f "$WORK/share/icons/hicolor/256x256/apps/org.genomespace.Desktop.png" ] || fail "hicolor icon not installed"
log "ok: install-desktop-entry.sh from the bundle"

# GUI runs: offscreen, wait until Qt has loaded its platform plugin (and READY_FILE exists, if given),
# let the event loop settle, SIGTERM, then expect exit status 0 within 20 s and no traceback.
timeout="${GSD_SMOKE_TIMEOUT:-60}"
gui_smoke() {  # gui_smoke NAME READY_FILE|"" COMMAND...
  local name="$1" ready_file="$2" rc="" up=0
  shift 2
  (cd "$WORK/cwd" && exec "${run_env[@]}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err") &
  GUI_PID=$!
  for _ in $(seq 1 $((timeout * 4))); do
    kill -0 "$GUI_PID" 2>/dev/null || break
    if grep -q libqoffscreen "/proc/$GUI_PID/maps" 2>/dev/null && { [ -z "$ready_file" ] || [ -e "$ready_file" ]; }; then
      up=1
      break
    fi
    sleep 0.25
  done
  if [ "$up" = 0 ]; then
    if kill -0 "$GUI_PID" 2>/dev/null; then
      fail "$name was not up within $timeout s; stderr: $(tail -20 "$WORK/$name.err")"
    fi
    wait "$GUI_PID" && rc=0 || rc=$?
    GUI_PID=""
    fail "$name exited with status $rc before it was up; stderr: $(tail -20 "$WORK/$name.err")"
  fi
  sleep 3  # let the event loop start (tray, windows, first timers)
  if ! kill -0 "$GUI_PID" 2>/dev/null; then
    wait "$GUI_PID" && rc=0 || rc=$?
    GUI_PID=""
    fail "$name died during startup (status $rc); stderr: $(tail -20 "$WORK/$name.err")"
  fi
  log "$name is up (pid $GUI_PID); sending SIGTERM"
  kill -TERM "$GUI_PID"
  for _ in $(seq 1 80); do
    if ! kill -0 "$GUI_PID" 2>/dev/null; then wait "$GUI_PID" && rc=0 || rc=$?; break; fi
    sleep 0.25
  done
  [ -n "$rc" ] || fail "$name still running 20 s after SIGTERM; stderr: $(tail -20 "$WORK/$name.err")"
  GUI_PID=""
  [ "$rc" = 0 ] || fail "$name exited with status $rc on SIGTERM (expected 0); stderr: $(tail -20 "$WORK/$name.err")"
  if grep -qE "Traceback|Fatal Python error|Segmentation fault|Could not load the Qt platform plugin" "$WORK/$name.err"; then
    fail "$name printed an error: $(tail -20 "$WORK/$name.err")"
  fi
  log "ok: $name started offscreen and exited with status 0 on SIGTERM"
}

# 1. the app as a new user starts it from the menu (no settings yet: first-run wizard)
gui_smoke gui "" "$BUNDLE/gsdesktop-gui"

# 2. the demo: embedded server from the bundle + the app syncing the sample files into a local folder
if [ "$WITH_SERVER" = 1 ]; then
  gui_smoke demo "$WORK/demo/GenomeSpace/demo-data/peaks.bed" \
    "$BUNDLE/gsdesktop" demo --data-dir "$WORK/demo" --poll-interval 1
  for cmdline in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -qF "$WORK/demo/"; then
      fail "a process of the demo outlived it: $(tr '\0' ' ' <"$cmdline")"
    fi
  done
  log "ok: demo synced the sample files into its folder and left no process behind"
fi

if [ "$ARCHIVE" = 1 ]; then
  tarball="$DIST/gsdesktop-$VERSION-linux-$(uname -m).tar.gz"
  tar -C "$DIST" -czf "$tarball" gsdesktop
  log "archive: $tarball ($(du -h "$tarball" | cut -f1))"
fi
log "all smoke tests passed"
