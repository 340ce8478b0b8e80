"""Crash at the i-th server operation, for every i (T4): a fresh engine on the same state converges.

The real client talks to the real server; a thin wrapper counts the engine's client calls and makes
the i-th one die with a ``BaseException`` (like the process being killed: nothing in the engine catches
it). A new engine instance on the same state directory then runs until it plans nothing, and the
result must equal the reference outcome computed without any crash.
"""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import SyncConfig, SyncEngine
from tests.integration.test_sync_engine import remote_tree, tree, write

CFG = SyncConfig(min_file_age=0.0, host_name="crashhost", retry_base=0.1, transfers=4)
CALLS = ("list_recursive", "metadata", "mkdir", "upload", "download", "delete", "move")


class Crash(BaseException):
    """Stands for kill -9: not an Exception, so no handler in the engine swallows it."""


class CrashingClient:
    def __init__(self, client: DataManagerClient, at: int) -> None:
        self._client, self._at = client, at
        self._n = itertools.count()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in CALLS:
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            with self._lock:
                n = next(self._n)
            if n == self._at:
                raise Crash(f"crash at call {n} ({name})")
            return attr(*args, **kw)

        return call


def prepare(client: DataManagerClient, tmp: Path, name: str) -> tuple[Path, str, SyncEngine]:
    """A synced pair, then changes on both sides: edits, a conflict, a rename, deletes, a new folder."""
    local, remote = tmp / name, f"{client.home}/{name}"
    write(local / "keep.txt", "keep")
    write(local / "both.txt", "base")
    write(local / "old/a.txt", "a")
    write(local / "gone.txt", "bye")
    write(local / "remote-del.txt", "rd")
    eng = SyncEngine(client, local, remote, CFG, state_dir=tmp / f"{name}-state")
    assert eng.sync_once().converged
    write(local / "both.txt", "local edit")
    write(local / "new/deep/n.txt", "new local")
    os.rename(local / "old", local / "renamed")
    (local / "gone.txt").unlink()
    src = tmp / f"{name}-src.txt"
    src.write_text("remote edit")
    client.upload(src, f"{remote}/both.txt")
    src.write_text("remote new")
    client.mkdir(f"{remote}/rdir")
    client.upload(src, f"{remote}/rdir/r.txt")
    client.delete(f"{remote}/remote-del.txt")
    return local, remote, eng


def _normalize(t: dict[str, bytes | None]) -> dict[str, bytes | None]:
    """Conflict copies carry a timestamp: compare them by content under a fixed name."""
    out: dict[str, bytes | None] = {}
    for p, v in t.items():
        key = p.split(" (conflicted copy")[0] + ".txt" + "#copy" if "conflicted copy" in p else p
        out[key] = v
    return out


def test_crash_at_every_server_call_converges(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # reference: the same scenario without a crash
    ref_local, ref_remote, ref_eng = prepare(client, tmp_path, "ref")
    assert ref_eng.sync_once().converged
    assert ref_eng.sync_once().planned == 0
    counting = CrashingClient(client, at=-1)
    _, _, eng2 = prepare(client, tmp_path, "count")
    eng2.client = counting  # a wrapper with the client's interface; counts the calls one cycle makes
    eng2.sync_once()
    calls = next(counting._n)
    assert calls >= 10, calls  # listing, metadata checks, mkdirs, transfers, moves, deletes
    reference = _normalize(tree(ref_local))
    assert reference == _normalize(remote_tree(client, ref_remote))
    assert reference["both.txt"] == b"remote edit" and reference["both.txt#copy"] == b"local edit"
    step = 1 if os.environ.get("GSDESKTOP_SYNC_FULL_SWEEP") else 3
    for i in range(0, calls, step):
        local, remote, eng = prepare(client, tmp_path, f"c{i}")
        eng.client = CrashingClient(client, at=i)  # a wrapper with the client's interface
        with pytest.raises(Crash):
            eng.sync_once()
        eng.db.close()
        fresh = SyncEngine(client, local, remote, CFG, state_dir=tmp_path / f"c{i}-state")
        for _ in range(4):
            report = fresh.sync_once(force_retry=True)
            if report.planned == 0 and report.converged:
                break
        else:
            raise AssertionError(f"crash at call {i}: no convergence: {report}")
        got = _normalize(tree(local))
        assert got == _normalize(remote_tree(client, remote)), f"crash at call {i}"
        assert got == reference, f"crash at call {i}: {sorted(set(got) ^ set(reference))}"
        assert not any(".gsdownload" in p or p.startswith(".gsdesktop-cache") for p in tree(local))
        fresh.close()
