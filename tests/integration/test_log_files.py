"""Log files: the desktop app and `sync --watch` write rotating logs where "Open log folder" points."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

from gsdesktop import __version__
from gsdesktop.logfiles import LOG_BACKUPS, HeaderRotatingFileHandler, log_dir, start_file_log, stop_file_log
from tests.support.cli import cli_env
from tests.support.procs import assert_clean_exit, start_gsdesktop, stop_process, wait_for


def test_rotating_files_start_with_version_and_platform(tmp_home: Path) -> None:
    path = start_file_log("unit", "extra info", max_bytes=20_000)
    try:
        assert path == log_dir() / "unit.log" and str(tmp_home) in str(path)
        assert start_file_log("unit") == path  # once per process
        logger = logging.getLogger("gsdesktop.test")
        for i in range(2000):
            logger.info("line %05d %s", i, "x" * 40)
        logger.debug("not kept: below INFO")
    finally:
        stop_file_log()
    files = sorted(path.parent.glob("unit.log*"))
    assert len(files) == 1 + LOG_BACKUPS  # rotated, and old ones dropped: a bounded size
    assert sum(f.stat().st_size for f in files) < (1 + LOG_BACKUPS) * 21_000
    for f in files:
        first = f.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(f"# GenomeSpace Desktop {__version__} (unit)"), first
        assert platform.platform() in first and "extra info" in first
    text = path.read_text(encoding="utf-8")
    assert "line 01999" in text and "not kept" not in text
    assert not any(isinstance(h, HeaderRotatingFileHandler) for h in logging.getLogger().handlers)


def test_sync_watch_writes_its_log(account, tmp_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    local = tmp_path / "local"
    local.mkdir()
    (local / "reads.txt").write_text("ACGT\n")
    env = cli_env(tmp_home, account.server_url, account.username, account.password)
    out = tmp_path / "watch.out"
    proc = start_gsdesktop(["sync", str(local), "synced", "--watch", "--poll", "1"], env, out)
    logfile = tmp_home / ".local" / "state" / "gsdesktop" / "log" / "sync-watch.log"
    try:
        wait_for(lambda: logfile.exists() and "reads.txt" in logfile.read_text(), 60, "log line", proc)
    finally:
        code = stop_process(proc)
    assert_clean_exit(code, out)
    lines = logfile.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(f"# GenomeSpace Desktop {__version__} (sync-watch)")
    assert any("watching" in ln for ln in lines) and any("stopped watching" in ln for ln in lines)
    assert account.password not in logfile.read_text()
