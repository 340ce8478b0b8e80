"""The systemd units under packaging/linux/systemd verify with systemd-analyze and start real commands."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from gsdesktop.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "packaging" / "linux" / "systemd"


def _gsdesktop() -> str:
    exe = Path(sys.executable).parent / "gsdesktop"
    assert exe.is_file(), f"the gsdesktop console script is not installed beside {sys.executable}"
    return str(exe)


def _render(name: str, dest: Path) -> Path:
    text = (UNITS / f"{name}.in").read_text().replace("@GSDESKTOP@", _gsdesktop())
    out = dest / name
    out.write_text(text)
    return out


def _verify(unit: Path, *, user: bool, runtime: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing (Debian package systemd; .ci/run installs it)"
    runtime.mkdir(mode=0o700, exist_ok=True)
    cmd = [tool, *(["--user"] if user else []), "verify", str(unit)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, cwd=unit.parent,
        env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)},
    )  # fmt: skip


def _exec_args(unit: Path, env: dict[str, str]) -> list[str]:
    line = next(ln for ln in unit.read_text().splitlines() if ln.startswith("ExecStart="))
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line.removeprefix("ExecStart="))
    argv = shlex.split(expanded)
    assert argv[0] == _gsdesktop()
    return argv[1:]


def test_server_unit_verifies_and_runs_server_run(tmp_path: Path) -> None:
    unit = _render("gsdesktop-server.service", tmp_path)
    result = _verify(unit, user=False, runtime=tmp_path / "run")
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result
    args = build_parser().parse_args(_exec_args(unit, {}))
    assert (args.command, args.server_command) == ("server", "run")
    text = unit.read_text()
    assert "EnvironmentFile=/etc/gsdesktop/server.env" in text and "GSDM_DATA_DIR=/var/lib/gsdm" in text


def test_sync_user_unit_verifies_and_runs_sync_watch(tmp_path: Path) -> None:
    unit = _render("gsdesktop-sync.service", tmp_path)
    result = _verify(unit, user=True, runtime=tmp_path / "run")
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result
    args = build_parser().parse_args(
        _exec_args(unit, {"GSDESKTOP_LOCAL": "/home/lab/GenomeSpace", "GSDESKTOP_REMOTE": "lab/run42"})
    )
    assert args.command == "sync" and args.watch and str(args.local) == "/home/lab/GenomeSpace"
    assert args.remote == "lab/run42"
    assert "EnvironmentFile=%h/.config/gsdesktop/sync.env" in unit.read_text()


def test_a_broken_unit_is_caught(tmp_path: Path) -> None:
    """The check is not a rubber stamp: a unit whose command does not exist fails verification."""
    unit = tmp_path / "gsdesktop-server.service"
    unit.write_text(
        (UNITS / "gsdesktop-server.service.in").read_text().replace("@GSDESKTOP@", "/nonexistent/gsdesktop")
    )
    result = _verify(unit, user=False, runtime=tmp_path / "run")
    assert result.returncode != 0 and "not executable" in result.stderr, result
