"""`gsdesktop demo` without the server packages (the slim bundle): one clear line, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, cli_env

# A None entry in sys.modules makes `import <name>` raise ModuleNotFoundError(name=<name>), the error an
# install without that package gives. Run in a fresh interpreter so this test's modules stay intact.
HIDE_AND_RUN = (
    "import sys; sys.modules[sys.argv[1]] = None; "
    "from gsdesktop.cli.main import main; sys.exit(main(sys.argv[2:]))"
)


@pytest.mark.parametrize("missing", ["uvicorn", "boto3", "gsdesktop.server.embedded"])
def test_demo_without_server_packages_is_one_clear_line(missing: str, tmp_path: Path) -> None:
    args = ["demo", "--data-dir", str(tmp_path / "data"), "--folder", str(tmp_path / "f")]
    res = subprocess.run(
        [sys.executable, "-c", HIDE_AND_RUN, missing, *args],
        env=cli_env(tmp_path / "home", QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("gsdesktop: error: `gsdesktop demo` needs the server components")
    assert f"({missing} is missing)" in lines[0] and "pip install 'gsdesktop[demo]'" in lines[0]
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


@pytest.mark.parametrize(("command", "extra"), [("gui", "gui"), ("demo", "demo")])
def test_gui_without_qt_names_the_extra(command: str, extra: str, tmp_path: Path) -> None:
    """A base install (CLI and sync only) has no PySide6: `gsdesktop gui` says which extra adds the app."""
    res = subprocess.run(
        [sys.executable, "-c", HIDE_AND_RUN, "PySide6", command, "--folder", str(tmp_path / "f")],
        env=cli_env(tmp_path / "home", QT_QPA_PLATFORM="offscreen"), capture_output=True, text=True,
        timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"gsdesktop: error: `gsdesktop {command}` needs the desktop app's Qt packages")
    assert f"pip install 'gsdesktop[{extra}]'" in lines[0]


def test_demo_import_check_passes_with_the_server_installed() -> None:
    from gsdesktop.cli.gui_cmd import require_server_components

    require_server_components("demo")  # the full install has every server package: no error
    assert "gsdesktop.server.embedded" in sys.modules


@pytest.mark.parametrize("command", ["gui", "demo"])
def test_no_display_is_one_clear_line_not_a_qt_abort(command: str, tmp_path: Path) -> None:
    """An instrument PC or server without a screen: Qt alone would abort with a core dump (exit 134)."""
    env = cli_env(tmp_path / "home")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(var, None)
    res = subprocess.run(
        [sys.executable, "-m", "gsdesktop", command, "--folder", str(tmp_path / "f")],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "needs a graphical display" in lines[0], res.stderr
    assert "gsdesktop sync LOCAL REMOTE --watch" in lines[0]
    assert not (tmp_path / "f").exists()
