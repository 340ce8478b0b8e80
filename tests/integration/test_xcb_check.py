"""Qt's X11 (xcb) plugin with a missing system library: one line naming it and its package, exit 1.

Without the check Qt prints a dozen lines blaming xcb-cursor0 and aborts with a core dump (exit 134)
before any window, e.g. on a fresh Debian 12 without libxcb-icccm4 and libxcb-keysyms1.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gsdesktop.cli.gui_cmd import apt_packages_for, missing_xcb_libraries, xcb_plugin_dir
from tests.support.cli import ROOT, cli_env

REAL_NAME, FAKE_NAME = b"libxcb-keysyms.so.1", b"libxcb-keysqqq.so.1"  # same length: a valid ELF stays valid


def qt_dir() -> Path:
    spec = importlib.util.find_spec("PySide6")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def broken_plugin_dir(tmp_path: Path) -> Path:
    """A copy of the real xcb plugin whose needed ``libxcb-keysyms.so.1`` is renamed to one no system has;
    ``lib`` beside it is the real Qt library folder, so every other dependency resolves as before."""
    plugins = tmp_path / "Qt" / "plugins" / "platforms"
    plugins.mkdir(parents=True)
    (tmp_path / "Qt" / "lib").symlink_to(qt_dir() / "lib")
    data = (qt_dir() / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    assert data.count(REAL_NAME) >= 1 and len(REAL_NAME) == len(FAKE_NAME)
    (plugins / "libqxcb.so").write_bytes(data.replace(REAL_NAME, FAKE_NAME))
    return plugins


def test_missing_library_is_named(tmp_path: Path) -> None:
    plugins = broken_plugin_dir(tmp_path)
    missing = missing_xcb_libraries(plugins / "libqxcb.so")
    assert FAKE_NAME.decode() in missing
    assert all(not name.startswith("libQt6") for name in missing)  # the bundled Qt libraries resolve


def test_the_installed_plugin_is_found() -> None:
    assert xcb_plugin_dir({}) == qt_dir() / "plugins" / "platforms"
    assert xcb_plugin_dir({"QT_QPA_PLATFORM_PLUGIN_PATH": "/x/y"}) == Path("/x/y")


def test_debian_package_names() -> None:
    assert apt_packages_for(
        ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0", "libxkbcommon-x11.so.0",
         "libxcb-render-util.so.0", "libX11-xcb.so.1", "libxcb-xkb.so.1", "libxcb-icccm.so.4"]
    ) == ["libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-render-util0",
          "libx11-xcb1", "libxcb-xkb1"]  # fmt: skip
    assert apt_packages_for(["libfoo-bar.so.2", "libbaz.so.1.2"]) == ["libfoo-bar2", "libbaz1"]


@pytest.mark.parametrize("command", ["demo", "gui"])
def test_missing_xcb_library_is_one_line_not_a_core_dump(command: str, tmp_path: Path) -> None:
    plugins = broken_plugin_dir(tmp_path)
    env = cli_env(tmp_path / "home", QT_QPA_PLATFORM="xcb", DISPLAY=":97",
                  QT_QPA_PLATFORM_PLUGIN_PATH=str(plugins))  # fmt: skip
    env.pop("WAYLAND_DISPLAY", None)
    args = ["--data-dir", str(tmp_path / "data")] if command == "demo" else []
    res = subprocess.run(
        [sys.executable, "-m", "gsdesktop", command, *args, "--folder", str(tmp_path / "f")],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 1, (res.returncode, res.stderr[-2000:])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert FAKE_NAME.decode() in lines[0] and "apt install" in lines[0] and "libxcb-keysqqq1" in lines[0]
    assert not (tmp_path / "data").exists() and not (tmp_path / "f").exists()  # nothing started


@pytest.mark.skipif(sys.platform != "linux", reason="the xcb plugin exists on Linux only")
def test_check_passes_where_qt_can_load_the_plugin() -> None:
    """On this machine: whatever the check reports missing, Qt itself cannot load either (and vice versa)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":97"}
    missing = missing_xcb_libraries(qt_dir() / "plugins" / "platforms" / "libqxcb.so")
    probe = "import ctypes,sys; ctypes.CDLL(sys.argv[1])"
    res = subprocess.run(
        [sys.executable, "-c", probe, str(qt_dir() / "plugins" / "platforms" / "libqxcb.so")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (res.returncode == 0) == (not missing), (missing, res.stderr)
