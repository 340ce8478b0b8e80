"""Start at login: XDG autostart on Linux, a LaunchAgent on macOS, the Run key on Windows."""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path

APP_ID = "org.genomespace.Desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def launch_command(args: list[str] | None = None) -> list[str]:
    """The command that starts the desktop app (frozen bundle or ``python -m gsdesktop gui``); ``args``
    is another command line of ``gsdesktop`` (e.g. ``["demo", "--data-dir", ...]`` for the demo)."""
    args = ["gui"] if args is None else args
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable)
        gui = exe.with_name("gsdesktop-gui" + exe.suffix)
        # the windowed launcher opens the app with no arguments; the CLI needs the `gui` command
        return [str(gui)] if gui.is_file() and args == ["gui"] else [str(exe), *args]
    return [sys.executable, "-m", "gsdesktop", *args]


def _desktop_exec(cmd: list[str]) -> str:
    """Quote for a desktop entry's ``Exec`` key (double quotes; ``"``, `` ` ``, ``$``, ``\\`` escaped)."""

    def quote(arg: str) -> str:
        if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
            return arg.replace("%", "%%")
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return '"' + escaped.replace("%", "%%") + '"'

    return " ".join(quote(a) for a in cmd)


def _xdg_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / f"{APP_ID}.desktop"


def _launch_agent_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{APP_ID}.plist"


def autostart_path(platform: str | None = None) -> Path | None:
    """Where the entry lives (``None`` on Windows: it is a registry value)."""
    platform = platform or sys.platform
    if platform == "darwin":
        return _launch_agent_path()
    if platform.startswith("win"):
        return None
    return _xdg_path()


def is_enabled(platform: str | None = None) -> bool:
    platform = platform or sys.platform
    if platform.startswith("win"):
        return _win_get() is not None
    path = autostart_path(platform)
    return path is not None and path.exists()


def set_enabled(enabled: bool, platform: str | None = None, command: list[str] | None = None) -> None:
    """Create (or rewrite) or remove the login item for the current user; it runs ``command``
    (default: :func:`launch_command`, the app).

    Raises:
        OSError: the file or registry value could not be written.
    """
    platform = platform or sys.platform
    cmd = command or launch_command()
    if platform.startswith("win"):
        _win_set(subprocess_line(cmd) if enabled else None)
        return
    path = autostart_path(platform)
    assert path is not None
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if platform == "darwin":
        data = {"Label": APP_ID, "ProgramArguments": cmd, "RunAtLoad": True, "ProcessType": "Interactive"}
        path.write_bytes(plistlib.dumps(data))
    else:
        path.write_text(
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=GenomeSpace Desktop\n"
            "Comment=Keep a folder in sync with GenomeSpace\n"
            f"Exec={_desktop_exec(cmd)}\n"
            f"Icon={APP_ID}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n",
            encoding="utf-8",
        )


def subprocess_line(cmd: list[str]) -> str:
    import subprocess

    return subprocess.list2cmdline(cmd)


def _win_get() -> str | None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            value, _ = winreg.QueryValueEx(key, APP_ID)
            return str(value)
    except OSError:
        return None


def _win_set(value: str | None) -> None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        raise OSError("the Run key exists only on Windows")
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if value is None:
            try:
                winreg.DeleteValue(key, APP_ID)
            except FileNotFoundError:
                pass
        else:
            winreg.SetValueEx(key, APP_ID, 0, winreg.REG_SZ, value)
