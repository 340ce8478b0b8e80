"""`gsdesktop sync/status/conflicts/errors` as real subprocesses against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.integration.test_sync_e2e import ROOT, _env


def gs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gsdesktop", *args], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)  # fmt: skip


def test_sync_once_status_conflicts_errors(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account)
    a, b = tmp_path / "A", tmp_path / "B"
    (a / "sub").mkdir(parents=True)
    (a / "sub" / "r.txt").write_text("one")
    out = gs(env, "sync", str(a), "cli", "--once")
    assert out.returncode == 0, out.stderr
    assert "uploaded\tsub/r.txt" in out.stdout.splitlines()
    assert out.stdout.splitlines()[-1].startswith("summary\tin sync")
    out = gs(env, "sync", str(b), "cli", "--once", "--json")
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and events[-1]["event"] == "summary" and events[-1]["downloaded"] == 1
    assert {"event": "action", "kind": "downloaded", "path": "sub/r.txt"}.items() <= next(
        e for e in events if e.get("kind") == "downloaded").items()  # fmt: skip

    # nothing to report yet: a plain sentence for people, an empty list for scripts
    assert gs(env, "conflicts").stdout == "No conflicted copies.\n"
    assert gs(env, "errors").stdout == "No sync problems.\n"
    assert json.loads(gs(env, "conflicts", "--json").stdout) == []

    # a conflict, seen by `conflicts`
    (a / "sub" / "r.txt").write_text("A's edit")
    (b / "sub" / "r.txt").write_text("B's edit")
    out = gs(env, "sync", str(a), "cli", "--once")
    assert out.returncode == 0 and "uploaded\tsub/r.txt" in out.stdout.splitlines(), out.stdout + out.stderr
    out = gs(env, "sync", str(b), "cli", "--once")
    assert out.returncode == 0 and any(
        line.startswith("conflict\tsub/r.txt") for line in out.stdout.splitlines()
    ), out.stdout + out.stderr
    rows = json.loads(gs(env, "conflicts", "--json").stdout)
    assert [r["path"] for r in rows] == ["sub/r.txt"] and "conflicted copy" in rows[0]["copy"]

    # status lists both pairs
    status = json.loads(gs(env, "status", "--json").stdout)
    assert {s["local"] for s in status} == {str(a), str(b)} and all(s["converged"] for s in status)

    # a lost root marker blocks with a clear summary and a non-zero exit; `errors` explains it
    os.symlink(tmp_path, b / "link")
    (b / ".gsdesktop-root").unlink()
    out = gs(env, "sync", str(b), "cli", "--once")
    assert out.returncode == 1 and "blocked\troot_missing" in out.stdout and "Traceback" not in out.stderr
    errs = json.loads(gs(env, "errors", "--json", str(b)).stdout)
    assert {e["kind"] for e in errs} == {"root_missing"}
    text = gs(env, "errors", str(b)).stdout
    assert "sync marker" in text


def test_bad_password_is_one_clean_line(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account) | {"GSDESKTOP_PASSWORD": "wrong"}
    out = gs(env, "sync", str(tmp_path / "L"), "x", "--once")
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout


def test_once_waits_for_a_file_still_being_written(account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`sync --once` never reports "in sync" while skipping a file that is still growing: it waits for
    the file to settle (up to a bound), then uploads the finished file and exits 0."""
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, account)
    local = tmp_path / "L"
    local.mkdir()
    growing = local / "run.log"
    growing.write_text("start\n")
    stop = threading.Event()

    def writer() -> None:  # appends for about 2.5 s, like an instrument writing its output
        deadline = time.monotonic() + 2.5
        with growing.open("a") as fh:
            while time.monotonic() < deadline and not stop.is_set():
                fh.write("line\n")
                fh.flush()
                time.sleep(0.05)
            fh.write("end\n")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        out = gs(env, "sync", str(local), "growing", "--once")
    finally:
        stop.set()
        thread.join()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "uploaded\trun.log" in out.stdout.splitlines(), out.stdout
    assert out.stdout.splitlines()[-1].startswith("summary\tin sync"), out.stdout
    got = gs(env, "get", f"/users/{account.username}/growing/run.log", str(tmp_path / "back.log"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.log").read_bytes() == growing.read_bytes()  # the finished file, not a prefix
