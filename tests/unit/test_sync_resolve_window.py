"""Settling a conflict by keeping the copy never loses a version saved (or synced down) under the
original's name after that version was put in the trash (issue 16, the audit of the renames over a
name): before, the copy was renamed over the name and such a version was kept nowhere. Real files, the
real trash in a temp HOME, a real state database; the save is made at the exact moment by wrapping the
trash call itself (the version really goes to the trash first)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import send2trash

from gsdesktop.sync import swap
from gsdesktop.sync.conflicts import Keep, open_conflicts, resolve
from gsdesktop.sync.events import ConflictDetected
from gsdesktop.sync.state import StateDB
from tests.support.executor_pair import trashed

ROUNDS = 10
COPY = "f (conflicted copy h 2026-01-01 000000).txt"


def _keep_copy(tmp: Path, monkeypatch: pytest.MonkeyPatch, save: bytes | None) -> tuple[Path, str, StateDB]:
    root = tmp / "L"
    root.mkdir(parents=True)
    (root / "f.txt").write_bytes(b"server's")
    (root / COPY).write_bytes(b"mine")
    db = StateDB(tmp / "state.sqlite3")
    db.add_conflict(ConflictDetected("f.txt", COPY))
    real = send2trash.send2trash

    def trash_then_save(path: str) -> None:
        real(path)
        if save is not None:  # the user (or a running sync) writes the original's name right now
            part = root / ".f.txt.part"
            part.write_bytes(save)
            os.replace(part, root / "f.txt")

    monkeypatch.setattr(send2trash, "send2trash", trash_then_save)
    [conflict] = open_conflicts(db.conflicts(), root)
    done = resolve(db, root, conflict, Keep.COPY)
    monkeypatch.setattr(send2trash, "send2trash", real)
    return root, done, db


@pytest.mark.skipif(not swap.SUPPORTED, reason="no atomic exchange on this platform")
def test_a_save_while_the_copy_takes_the_name_stays_as_the_copy(
    tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rnd in range(ROUNDS):
        save = f"saved meanwhile {rnd}".encode()
        root, done, db = _keep_copy(tmp_path / str(rnd), monkeypatch, save)
        try:
            files = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
            assert files == {"f.txt": b"mine", COPY: save}, files
            assert f"saved meanwhile is now {COPY}" in done
            assert [(c.path, c.copy) for c in open_conflicts(db.conflicts(), root)] == [("f.txt", COPY)]
        finally:
            db.close()
    assert sorted(trashed()) == [b"server's"] * ROUNDS


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "no-exchange"])
def test_keeping_the_copy_replaces_the_original_and_trashes_it(
    exchange: bool, tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not exchange:
        monkeypatch.setattr(swap, "_renameat2", None)
    elif not swap.SUPPORTED:
        pytest.skip("no atomic exchange on this platform")
    root, done, db = _keep_copy(tmp_path, monkeypatch, None)
    try:
        assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == {"f.txt": b"mine"}
        assert done == "kept the conflicted copy as f.txt (the version it replaced is in the trash)"
        assert open_conflicts(db.conflicts(), root) == []
    finally:
        db.close()
    assert sorted(trashed()) == [b"server's"]
