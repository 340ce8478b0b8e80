"""End to end: `gsdesktop gui --folder --remote` as a real offscreen subprocess against the real server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import cli_env
from tests.support.procs import assert_clean_exit, start_gsdesktop, stop_process, wait_for

NULL_KEYRING = "keyring.backends.null.Keyring"


def app_env(home: Path, account=None, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Isolated HOME/XDG dirs, offscreen Qt; the account (if any) through GSDESKTOP_* variables."""
    if account is None:
        return cli_env(home, QT_QPA_PLATFORM="offscreen", **extra)
    return cli_env(
        home, account.server_url, account.username, account.password, QT_QPA_PLATFORM="offscreen", **extra
    )


def test_gui_provisioned_syncs_both_ways_and_exits_on_sigterm(account, client, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "GenomeSpace"
    proc = start_gsdesktop(
        ["gui", "--folder", str(folder), "--remote", "lab", "--poll-interval", "1"],
        app_env(tmp_home, account, PYTHON_KEYRING_BACKEND=NULL_KEYRING),
        tmp_path / "app.log",
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
        code = stop_process(proc)
    assert_clean_exit(code, tmp_path / "app.log")


def test_gui_folder_without_account_is_one_clear_line(tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = app_env(tmp_home, PYTHON_KEYRING_BACKEND=NULL_KEYRING)
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
    folder = tmp_path / "demo-folder"
    proc = start_gsdesktop(
        ["demo", "--data-dir", str(tmp_path / "data"), "--folder", str(folder), "--poll-interval", "1"],
        app_env(tmp_home, PYTHON_KEYRING_BACKEND=NULL_KEYRING),
        tmp_path / "demo.log",
    )
    try:
        expected = ["demo-contig.fa", "expression.gct", "peaks.bed"]
        wait_for(
            lambda: all((folder / "demo-data" / n).exists() for n in expected), 120, "seeded files", proc
        )
        assert (folder / "demo-data" / "demo-contig.fa").read_text().startswith(">chrDemo")
        assert (folder / "demo-data" / "expression.gct").read_text().startswith("#1.2")
    finally:
        code = stop_process(proc)
    assert_clean_exit(code, tmp_path / "demo.log")
    # the log file "Open log folder" shows: version, platform and Qt at the top, then what sync did
    from gsdesktop import __version__

    lines = (tmp_home / ".local/state/gsdesktop/log/desktop-demo.log").read_text().splitlines()
    assert lines[0].startswith(f"# GenomeSpace Desktop {__version__} (desktop-demo)") and "Qt 6" in lines[0]
    assert any("demo-data/peaks.bed" in ln for ln in lines), lines


def test_first_run_gui_exits_cleanly_on_sigterm(tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No settings yet: `gsdesktop` (no arguments) opens the wizard; SIGTERM closes it with exit code 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsdesktop"], env=app_env(tmp_home), stderr=subprocess.PIPE
    )
    time.sleep(3)
    assert proc.poll() is None  # waiting in the wizard, not crashed
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert b"Traceback" not in err


def test_demo_keeps_its_address_across_runs(tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Interrupted transfers and the sync state are remembered per server address: a relaunched demo must
    come back on the same one (it picked a new random port every run)."""
    import re

    folder, data = tmp_path / "demo-folder", tmp_path / "data"
    urls = []
    app_log = tmp_home / ".local/state/gsdesktop/log/desktop-demo.log"
    for run in range(2):
        log = tmp_path / f"demo-{run}.log"
        proc = start_gsdesktop(
            ["demo", "--data-dir", str(data), "--folder", str(folder), "--poll-interval", "1"],
            app_env(tmp_home, PYTHON_KEYRING_BACKEND=NULL_KEYRING),
            log,
        )
        try:
            wait_for(lambda: "gsdesktop demo: server" in log.read_text(), 120, "the server line", proc, log)  # noqa: B023
            wait_for(lambda: (folder / "demo-data" / "peaks.bed").exists(), 120, "seeded files", proc, log)
            wait_for(lambda: "-> idle" in app_log.read_text().split("# GenomeSpace Desktop")[-1], 120,
                     "a first sync", proc, log)  # fmt: skip
        finally:
            code = stop_process(proc)
        assert_clean_exit(code, log)
        found = re.search(r"gsdesktop demo: server (http://[^\s,]+),", log.read_text())
        assert found, log.read_text()
        urls.append(found.group(1))
    assert urls[0] == urls[1]
    pairs = list((tmp_home / ".local/share/gsdesktop/sync").glob("*.sqlite3"))
    assert len(pairs) == 1, pairs  # one sync state, carried over (not a fresh pair per run)
