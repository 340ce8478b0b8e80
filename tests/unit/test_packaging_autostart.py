"""The "start at login" entries the app writes match the packaging metadata and start the app."""

from __future__ import annotations

import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gsdesktop.cli.main import build_parser

APP_ID = "org.genomespace.Desktop"
ROOT = Path(__file__).resolve().parents[2]


def _parses_as_gui(argv: list[str]) -> bool:
    """True when ``argv`` (a full command line) would open the desktop app."""
    exe = Path(argv[0]).name
    if exe.startswith("gsdesktop-gui"):  # the gui-script / windowed bundle exe: `gsdesktop gui <args>`
        args = ["gui", *argv[1:]]
    elif exe.startswith("gsdesktop"):  # the console exe
        args = argv[1:] or ["gui"]
    elif argv[1:3] == ["-m", "gsdesktop"]:  # python -m gsdesktop ...
        args = argv[3:] or ["gui"]
    else:
        return False
    try:
        ns = build_parser().parse_args(args)
    except SystemExit:
        return False
    command: str | None = ns.command
    return command == "gui"


@pytest.fixture
def autostart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    from gsdesktop.ui import autostart as module

    return module


def test_linux_autostart_entry(autostart, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    autostart.set_enabled(True, platform="linux")
    path = tmp_path / "config" / "autostart" / f"{APP_ID}.desktop"
    assert autostart.is_enabled(platform="linux") and path.is_file()
    lines = [line for line in path.read_text().splitlines() if "=" in line and not line.startswith("#")]
    fields = dict(line.split("=", 1) for line in lines)
    assert fields["Type"] == "Application"
    assert fields["Icon"] == APP_ID, "the autostart entry must use the installed icon name"
    argv = shlex.split(fields["Exec"])
    assert Path(argv[0]).is_absolute() and Path(argv[0]).exists()
    assert _parses_as_gui(argv), f"Exec={fields['Exec']} does not open the app"
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    autostart.set_enabled(False, platform="linux")
    assert not path.exists() and not autostart.is_enabled(platform="linux")


def test_macos_launch_agent(autostart, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    autostart.set_enabled(True, platform="darwin")
    path = tmp_path / "home" / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == APP_ID
    assert agent["RunAtLoad"] is True
    assert _parses_as_gui(agent["ProgramArguments"])
    autostart.set_enabled(False, platform="darwin")
    assert not path.exists()


@pytest.mark.parametrize("exe_name", ["gsdesktop", "gsdesktop-gui"])
def test_frozen_launch_command_opens_the_app(  # type: ignore[no-untyped-def]
    autostart,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    exe_name: str,
) -> None:
    """From the bundle, whichever executable is running, the login item opens the app."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("gsdesktop", "gsdesktop-gui"):
        (bundle / name).write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / exe_name))
    argv = autostart.launch_command()
    assert _parses_as_gui(argv), f"{argv} does not open the app"
