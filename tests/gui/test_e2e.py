"""End to end: `gsdesktop gui --folder --remote` as a real offscreen subprocess against the real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes],
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"app exited early ({proc.returncode}) while waiting for {what}:\n{tail}")
        if cond():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def app_env(home: Path, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GSDESKTOP_SERVER=account.server_url,
        GSDESKTOP_USERNAME=account.username,
        GSDESKTOP_PASSWORD=account.password,
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    return env


def test_gui_provisioned_syncs_both_ways_and_exits_on_sigterm(account, client, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "GenomeSpace"
    log = open(tmp_path / "app.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gsdesktop",
            "gui",
            "--folder",
            str(folder),
            "--remote",
            "lab",
            "--poll-interval",
            "1",
        ],
        env=app_env(tmp_home, account),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        remote = f"{client.home}/lab"
        wait_for(folder.is_dir, 60, "the local folder", proc, tmp_path / "app.log")
        (folder / "saved.txt").write_text("saved into the folder\n")
        wait_for(lambda: client.exists(f"{remote}/saved.txt"), 90, "the upload of saved.txt", proc)
        assert client.metadata(f"{remote}/saved.txt").size == len("saved into the folder\n")
        src = tmp_path / "from-server.bed"
        src.write_text("chr1\t1\t100\tpeak\n")
        client.upload(src, f"{remote}/from-server.bed")
        wait_for(lambda: (folder / "from-server.bed").exists(), 90, "the download of from-server.bed", proc)
        wait_for(
            lambda: (folder / "from-server.bed").read_text() == src.read_text(), 30, "complete file", proc
        )
        assert not list(folder.glob("*.part")) and not list(folder.glob(".*.part"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
        log.close()
    output = (tmp_path / "app.log").read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output, output


def test_gui_folder_without_account_is_one_clear_line(tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_home),
        XDG_CONFIG_HOME=str(tmp_home / ".config"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    for var in ("GSDESKTOP_SERVER", "GSDESKTOP_USERNAME", "GSDESKTOP_PASSWORD"):
        env.pop(var, None)
    res = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "gui", "--folder", str(tmp_path / "f")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("gsdesktop: error:") and "--server" in res.stderr


def test_demo_starts_server_seeds_and_syncs(tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`gsdesktop demo`: embedded server, demo account, seeded files synced into the demo folder."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_home),
        XDG_CONFIG_HOME=str(tmp_home / ".config"),
        XDG_DATA_HOME=str(tmp_home / ".local/share"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    for var in ("GSDESKTOP_SERVER", "GSDESKTOP_USERNAME", "GSDESKTOP_PASSWORD"):
        env.pop(var, None)
    folder = tmp_path / "demo-folder"
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gsdesktop",
            "demo",
            "--data-dir",
            str(tmp_path / "data"),
            "--folder",
            str(folder),
            "--poll-interval",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        expected = ["demo-contig.fa", "expression.gct", "peaks.bed"]
        wait_for(
            lambda: all((folder / "demo-data" / n).exists() for n in expected), 120, "seeded files", proc
        )
        assert (folder / "demo-data" / "demo-contig.fa").read_text().startswith(">chrDemo")
        assert (folder / "demo-data" / "expression.gct").read_text().startswith("#1.2")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
        log.close()
    output = (tmp_path / "demo.log").read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output, output


def test_first_run_gui_exits_cleanly_on_sigterm(tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No settings yet: `gsdesktop` (no arguments) opens the wizard; SIGTERM closes it with exit code 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSDESKTOP_")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_home),
        XDG_CONFIG_HOME=str(tmp_home / ".config"),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    proc = subprocess.Popen([sys.executable, "-m", "gsdesktop"], env=env, stderr=subprocess.PIPE)
    time.sleep(3)
    assert proc.poll() is None  # waiting in the wizard, not crashed
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert b"Traceback" not in err
