"""Issue 18 item 5 on the command line: `status --json` shows the running cycle's progress (files and
bytes done and to go; null otherwise) read from another process, and `sync --watch` on a terminal
prints a one-line progress updated in place (never when stdout is a pipe). Real subprocesses, real
server, a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_sync_cli import gs
from tests.integration.test_sync_e2e import ROOT, _env

SIZE = 384 << 10
FILES = 3


def _status(env: dict[str, str], local: Path) -> dict[str, object]:
    rows = json.loads(gs(env, "status", "--json", str(local)).stdout)
    assert len(rows) == 1, rows
    return rows[0]  # type: ignore[no-any-return]


def _folder(tmp_path: Path) -> Path:
    a = tmp_path / "A"
    a.mkdir()
    for i in range(FILES):
        (a / f"f{i}.bin").write_bytes(os.urandom(SIZE))
        os.utime(a / f"f{i}.bin", (time.time() - 60, time.time() - 60))  # settled: all in one cycle
    return a


def test_status_json_shows_progress_while_a_cycle_runs(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account)
    a = _folder(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsdesktop", "sync", str(a), "progress", "--watch", "--bwlimit-up", "150k",
         "--transfers", "1"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    seen: list[dict[str, int]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "state\tsyncing":
                break
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = _status(env, a)
            if st["state"] == "syncing" and st["progress"] is not None:
                seen.append(st["progress"])  # type: ignore[arg-type]
            elif seen:
                break
            time.sleep(0.2)
        assert len(seen) >= 2, seen
        for p in seen:
            assert p["files_total"] == FILES and p["bytes_total"] == FILES * SIZE, p
            assert 0 <= p["files_done"] <= FILES and 0 <= p["bytes_done"] <= FILES * SIZE, p
        assert seen[-1]["bytes_done"] > seen[0]["bytes_done"], seen  # it moves while the cycle runs
        # the cycle ended: no progress (null), the pair is idle
        for line in proc.stdout:
            if line.startswith("uploaded\tf2.bin") or line.strip() == "state\tidle":
                break
        deadline = time.monotonic() + 30
        while (st := _status(env, a))["state"] != "idle" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert st["state"] == "idle" and st["progress"] is None, st
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    assert "\r" not in out and "Syncing" not in out, out  # not a terminal: no progress line
    assert _status(env, a)["progress"] is None


def test_watch_on_a_terminal_prints_one_line_progress(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account) | {"COLUMNS": "100"}
    a = _folder(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsdesktop", "sync", str(a), "tty", "--watch", "--bwlimit-up", "600k",
         "--transfers", "1"],
        env=env, cwd=ROOT, stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(slave)
    data = b""
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and data.count(b"uploaded\t") < FILES:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data += os.read(master, 65536)
                except OSError:
                    break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        os.close(master)
    text = data.decode()
    lines = re.findall(r"\r\x1b\[K(Syncing [^\r\n]*)", text)
    assert lines, text
    assert all(re.fullmatch(rf"Syncing [1-{FILES}] of {FILES} files(, [0-9.]+ \w+ left)?(, about .+)?", x)
               for x in lines), lines  # fmt: skip
    assert any(" left" in x for x in lines), lines
    # event lines stay whole lines: the progress line is cleared before each and never ends in a newline
    assert "uploaded\tf0.bin\r\n" in text, text
    assert not re.search(r"Syncing [^\r\n\x1b]*\r?\n", text), text
