"""`gsdesktop gui` (the desktop app) and `gsdesktop demo` (app + embedded server, no network).

Qt and the server packages are imported only inside the handlers.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gsdesktop.cli.common import add_server_options


def require_display(command: str) -> None:
    """On Linux with no screen, one line pointing at the command line instead of Qt's abort (core dump).

    Raises:
        CommandError: neither X11 nor Wayland is available and no Qt platform was chosen.
    """
    from gsdesktop.cli.main import CommandError

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise CommandError(
        f"`gsdesktop {command}` needs a graphical display, and this session has none (DISPLAY and "
        "WAYLAND_DISPLAY are not set). Without a screen, sync from the command line: "
        "gsdesktop sync LOCAL REMOTE --watch"
    )


def cmd_gui(args: argparse.Namespace) -> int:
    require_display("gui")
    from gsdesktop.ui.launch import launch_gui

    return launch_gui(args)


def require_server_components(command: str) -> None:
    """Import the embedded server now, so a slim install fails with one line naming what to install.

    Raises:
        CommandError: a server package (or the server code itself) is not installed.
    """
    from gsdesktop.cli.main import SERVER_MODULES, CommandError

    try:
        import gsdesktop.server.embedded  # noqa: F401
    except ModuleNotFoundError as exc:
        name = exc.name or ""
        if name.split(".")[0] not in SERVER_MODULES and not name.startswith("gsdesktop.server"):
            raise
        raise CommandError(
            f"`gsdesktop {command}` needs the server components ({name} is missing): "
            "pip install 'gsdesktop[server]', or use the full bundle"
        ) from exc


def cmd_demo(args: argparse.Namespace) -> int:
    require_display("demo")
    require_server_components("demo")
    from gsdesktop.ui.launch import launch_demo

    return launch_demo(args)


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "gui",
        help="open the desktop app (tray icon, remote browser, sync)",
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
        description=(
            "Start an embedded Data Manager (SeaweedFS + API on 127.0.0.1) with a demo account, put a "
            "small FASTA, GCT and BED file into it, and open the desktop app signed in and syncing a "
            "demo folder."
        ),
    )
    d.add_argument("--data-dir", metavar="DIR", help="server data (default: the user data directory)")
    d.add_argument("--folder", metavar="DIR", help="local demo folder (default: <data dir>/GenomeSpace)")
    d.add_argument("--port", type=int, default=0, help="API port (default: a free port)")
    d.add_argument("--poll-interval", type=float, default=5.0, metavar="SECONDS")
    d.set_defaults(handler=cmd_demo)
