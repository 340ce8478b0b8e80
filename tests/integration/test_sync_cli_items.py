"""Issue 16 as the command line shows it: `sync --once`, `status` and `errors` agree about a refused
name and about held-back deletions (and say how to confirm them); an unreadable file is unreadable, not
"busy"; `status` does not keep saying "syncing" for a watcher killed with -9. Real subprocesses
against the real server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_sync_cli import gs
from tests.integration.test_sync_e2e import ROOT, _env


def _status(env: dict[str, str], local: Path) -> dict[str, object]:
    rows = json.loads(gs(env, "status", "--json", str(local)).stdout)
    assert len(rows) == 1, rows
    return rows[0]  # type: ignore[no-any-return]


def test_refused_name_and_held_deletions_agree_everywhere(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account)
    a = tmp_path / "A"
    a.mkdir()
    for i in range(12):
        (a / f"f{i}.txt").write_text(str(i))
    (a / "back\\slash.txt").write_text("refused")
    out = gs(env, "sync", str(a), "items", "--once")
    assert out.returncode == 1, out.stdout + out.stderr  # not in sync: one file needs a new name
    assert "Traceback" not in out.stderr and "blocked" not in out.stdout, out.stdout + out.stderr
    assert sum(line.startswith("uploaded\t") for line in out.stdout.splitlines()) == 12
    assert "problem\tbad_name\tback\\slash.txt\tNot synced: " in out.stdout
    errs = json.loads(gs(env, "errors", "--json", str(a)).stdout)
    assert [(e["path"], e["kind"], e["retry_at"]) for e in errs] == [("back\\slash.txt", "bad_name", None)]
    st = _status(env, a)
    assert st["state"] == "idle" and st["problems"] == 1 and st["converged"] is False

    for i in range(10):
        (a / f"f{i}.txt").unlink()
    (a / "new.txt").write_text("new")
    out = gs(env, "sync", str(a), "items", "--once")
    assert out.returncode == 1 and "uploaded\tnew.txt" in out.stdout, out.stdout + out.stderr
    confirm = f"gsdesktop sync {a} /users/{account.username}/items --once --allow-mass-delete"
    assert f"held\t10 deletions wait for confirmation: {confirm}" in out.stdout.splitlines(), out.stdout
    errs = json.loads(gs(env, "errors", "--json", str(a)).stdout)
    assert {(e["path"], e["kind"]) for e in errs} == {("back\\slash.txt", "bad_name"), ("", "mass_delete")}
    st = _status(env, a)
    assert st["state"] == "idle" and st["problems"] == 2
    out = gs(env, *confirm.split()[1:])
    assert "deleted 0 local / 10 remote" in out.stdout and "held\t" not in out.stdout, out.stdout
    errs = json.loads(gs(env, "errors", "--json", str(a)).stdout)
    assert [e["kind"] for e in errs] == ["bad_name"]


def test_unreadable_file_is_a_problem_not_busy(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account)
    a = tmp_path / "A"
    a.mkdir()
    (a / "ok.txt").write_text("ok")
    secret = a / "secret.txt"
    secret.write_text("no")
    secret.chmod(0)
    cmd = [sys.executable, "-m", "gsdesktop", "sync", str(a), "unread", "--once"]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        caps = "-dac_override,-dac_read_search"
        cmd = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]
    started = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=120)
    elapsed = time.monotonic() - started
    assert out.returncode == 1 and "uploaded\tok.txt" in out.stdout, out.stdout + out.stderr
    assert "busy" not in out.stdout and "still being written" not in out.stdout, out.stdout
    assert "problem\tfile_error\tsecret.txt\tCannot read: Permission denied" in out.stdout, out.stdout
    assert elapsed < 8, f"--once waited {elapsed:.1f} s for a file that cannot settle"


def test_status_after_a_watcher_killed_mid_sync(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account)
    a = tmp_path / "A"
    a.mkdir()
    (a / "big.bin").write_bytes(os.urandom(3 << 20))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsdesktop", "sync", str(a), "killed", "--watch", "--bwlimit-up", "256k"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "state\tsyncing":
                break
        time.sleep(0.5)
        st = _status(env, a)
        assert st["state"] == "syncing" and st["watching"] is True
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    st = _status(env, a)
    assert st["state"] == "interrupted" and st["watching"] is False, st
    text = gs(env, "status", str(a)).stdout
    assert "\tinterrupted\tstopped\t" in text, text
