#!/usr/bin/env bash
# Packaging checks (issue 8), called by .ci/run after the test command. Steps:
#   1. desktop metadata: appstreamcli validate --no-net (metainfo), desktop-file-validate (menu entry and
#      the autostart template), icons up to date with the SVG (packaging/make_icons.py --check)
#   2. python -m build: sdist, then a wheel built from that sdist; the wheel must contain resources/
#   3. a real install of the wheel (with its dependencies, pipx style) into a fresh venv, run from an
#      empty directory: --version, --help, gsdesktop-gui script, resources reachable, no server packages
#   4. packaging/build_bundle.sh: PyInstaller one-folder bundle + smoke test (skip: GSD_SKIP_BUNDLE=1)
# Needs: apt packages appstream desktop-file-utils binutils; PyPI pyinstaller and build (installed here if
# missing).
# PYTHON selects the interpreter (default .venv/bin/python as created by the README test command).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1 QT_QPA_PLATFORM=offscreen

if [ -z "${PYTHON:-}" ]; then
  for cand in "$ROOT/.venv/bin/python" /work/venv/bin/python python3; do
    if command -v "$cand" >/dev/null 2>&1; then PYTHON="$cand"; break; fi
  done
fi
export PYTHON
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' gsdesktop/__init__.py)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gsd-package-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
declare -a TIMES=()
step_start=0
step() { step_start=$(date +%s); printf '\n=== package-check: %s\n' "$*"; }
done_step() { TIMES+=("$1: $(( $(date +%s) - step_start )) s"); }
fail() { printf '=== package-check: FAIL: %s\n' "$*" >&2; exit 1; }

step "desktop metadata"
for tool in appstreamcli desktop-file-validate objdump; do  # objdump: PyInstaller needs it on Linux
  command -v "$tool" >/dev/null || fail "$tool missing (apt-get install appstream desktop-file-utils binutils)"
done
appstreamcli validate --no-net packaging/linux/org.genomespace.Desktop.metainfo.xml
desktop-file-validate packaging/linux/org.genomespace.Desktop.desktop
sed 's#@EXEC@#/opt/gsdesktop/gsdesktop-gui#' packaging/linux/org.genomespace.Desktop-autostart.desktop.in \
  >"$WORK/org.genomespace.Desktop.desktop"
desktop-file-validate "$WORK/org.genomespace.Desktop.desktop"
"$PYTHON" packaging/make_icons.py --check
done_step metadata

step "python -m build (sdist + wheel)"
if ! "$PYTHON" -c "import build, PyInstaller" 2>/dev/null; then
  "$PYTHON" -m pip install -q 'build>=1.2' 'pyinstaller>=6.5'
fi
# build from a copy of the tree (tracked + untracked, not ignored) so no egg-info lands in the checkout
src="$ROOT"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  src="$WORK/src"
  mkdir -p "$src"
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | tar -C "$ROOT" --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$src"
fi
"$PYTHON" -m build --outdir "$WORK/dist" "$src" >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "python -m build"; }
wheel="$(ls "$WORK"/dist/gsdesktop-"$VERSION"-*.whl)"
sdist="$(ls "$WORK"/dist/gsdesktop-"$VERSION".tar.gz)"
"$PYTHON" - "$wheel" "$sdist" <<'EOF'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1:3]
names = set(zipfile.ZipFile(wheel).namelist())
need = ["gsdesktop/resources/icons/gsdesktop.svg",
        "gsdesktop/resources/icons/hicolor/256x256/apps/org.genomespace.Desktop.png"]
missing = [n for n in need if n not in names]
assert not missing, f"wheel lacks {missing}"
tray = [n for n in names if n.startswith("gsdesktop/resources/icons/tray-")]
members = tarfile.open(sdist).getnames()
assert any(m.endswith("gsdesktop/resources/icons/gsdesktop.svg") for m in members), "sdist lacks resources"
print(f"wheel: {len(names)} files, {len(tray)} tray icons; sdist: {len(members)} members")
EOF
done_step build

step "install the wheel into fresh venvs: base (no Qt, no server), [gui], [server]"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$wheel" >"$WORK/pip.log" 2>&1 || { tail -40 "$WORK/pip.log"; fail "pip install of the wheel"; }
mkdir "$WORK/empty"
(
  cd "$WORK/empty"
  out="$("$WORK/venv/bin/gsdesktop" --version)"
  [ "$out" = "gsdesktop $VERSION" ] || fail "installed gsdesktop --version printed '$out'"
  "$WORK/venv/bin/gsdesktop" --help >/dev/null
  "$WORK/venv/bin/gsdesktop" sync --help >/dev/null || fail "base install: gsdesktop sync --help failed"
  [ -x "$WORK/venv/bin/gsdesktop-gui" ] || fail "gsdesktop-gui script not installed"
  set +e
  gui_out="$("$WORK/venv/bin/gsdesktop" gui 2>&1)"; gui_code=$?
  set -e
  [ "$gui_code" = 1 ] && echo "$gui_out" | grep -q "pip install 'gsdesktop\[gui\]'" \
    || fail "base install: gsdesktop gui printed '$gui_out' (exit $gui_code)"
  "$WORK/venv/bin/python" - "$WORK/venv" <<'EOF'
import importlib.resources, importlib.util, subprocess, sys
from pathlib import Path
import gsdesktop
venv = Path(sys.argv[1]).resolve()
assert Path(gsdesktop.__file__).resolve().is_relative_to(venv), f"imported {gsdesktop.__file__}, not the wheel"
icon = importlib.resources.files("gsdesktop") / "resources" / "icons" / "gsdesktop.svg"
assert icon.is_file(), f"{icon} missing"
for name in ("PySide6", "shiboken6", "fastapi", "boto3"):
    assert importlib.util.find_spec(name) is None, f"the base install must not pull in {name}"
assert not (venv / "bin" / "weed").exists(), "the base install must not carry the embedded store"
# the CLI and the sync engine import nothing from Qt or the server
code = ("import sys, gsdesktop.cli.main, gsdesktop.cli.sync_cmd, gsdesktop.sync.engine, gsdesktop.cli.files;"
        "gsdesktop.cli.main.build_parser();"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'fastapi', 'boto3')];"
        "assert not bad, bad")
subprocess.run([sys.executable, "-c", code], check=True)
print(f"base install of gsdesktop {gsdesktop.__version__}: CLI and sync without Qt or server packages")
EOF
)
"$PYTHON" -m venv "$WORK/venv-gui"
"$WORK/venv-gui/bin/pip" install -q "$wheel[gui]" >"$WORK/pip-gui.log" 2>&1 || { tail -40 "$WORK/pip-gui.log"; fail "pip install of the wheel [gui]"; }
(
  cd "$WORK/empty"
  "$WORK/venv-gui/bin/python" - "$WORK/venv-gui" <<'EOF'
import importlib.util, sys
from pathlib import Path
venv = Path(sys.argv[1]).resolve()
assert importlib.util.find_spec("PySide6") is not None, "[gui] did not install PySide6"
assert importlib.util.find_spec("fastapi") is None, "[gui] must not pull in server packages"
from gsdesktop.ui.app import icons_dir  # the GUI's own lookup finds the tray icons in the installed wheel
tray = sorted(p.name for p in icons_dir().glob("tray-*.svg"))
assert Path(icons_dir()).resolve().is_relative_to(venv) and tray, f"tray icons not found via {icons_dir()}"
print(f"[gui] install: {len(tray)} tray icons at {icons_dir()}")
EOF
  "$WORK/venv-gui/bin/gsdesktop" gui --help >/dev/null || fail "[gui] install: gsdesktop gui --help failed"
)
"$PYTHON" -m venv "$WORK/venv-server"
"$WORK/venv-server/bin/pip" install -q "$wheel[server]" >"$WORK/pip-server.log" 2>&1 || { tail -40 "$WORK/pip-server.log"; fail "pip install of the wheel [server]"; }
(
  cd "$WORK/empty"
  "$WORK/venv-server/bin/gsdesktop" server run --help | grep -q GSDM_S3_ENDPOINT || fail "[server] install: server run --help"
  "$WORK/venv-server/bin/python" -c "
import importlib.util, sys
from pathlib import Path
assert importlib.util.find_spec('PySide6') is None, '[server] must not pull in Qt'
assert not (Path(sys.prefix) / 'bin' / 'weed').exists(), '[server] alone must not carry the embedded store'
import gsdesktop.server.app, gsdesktop.refget.service
print('[server] install: server imports, no Qt, no weed')"
  set +e
  srv_out="$("$WORK/venv-server/bin/gsdesktop" server run --data-dir "$WORK/dm" --port 0 2>&1)"; srv_code=$?
  set -e
  [ "$srv_code" = 1 ] && echo "$srv_out" | grep -q "gsdesktop\[store\]" \
    || fail "[server] install: server run with the embedded store printed '$srv_out' (exit $srv_code)"
)
done_step "wheel installs"

if [ "${GSD_SKIP_BUNDLE:-0}" = 1 ]; then
  echo "=== package-check: bundle build skipped (GSD_SKIP_BUNDLE=1)"
else
  step "PyInstaller bundle + smoke test"
  packaging/build_bundle.sh
  done_step bundle
fi

printf '\n=== package-check: all passed (%s)\n' "$(printf '%s; ' "${TIMES[@]}")"
