"""A save that lands while sync puts a conflict aside is never overwritten (found by the fast tier, seed
117289: a version written between the executor's rename of the local file to its conflicted copy and the
placement of the server's version was replaced without a trace). The real executor, real files, the fake
remote; the user's save is made at the exact moment through the executor's ``own_write`` seam (called
right after the rename)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gsdesktop.sync.events import SyncEvent
from gsdesktop.sync.executor import ExecContext, Executor
from gsdesktop.sync.planner import Entry, Op, plan
from gsdesktop.sync.state import StateDB
from tests.support.fakeremote import FakeRemote


def _entry(data: bytes) -> Entry:
    return Entry(False, hashlib.md5(data).hexdigest(), len(data))


def test_a_save_between_the_conflict_rename_and_the_download_is_kept(tmp_path: Path, tmp_home: Path) -> None:
    fake = FakeRemote()
    remote_root = f"{fake.home}/w"
    fake.mkdir(remote_root)
    src = tmp_path / "server.txt"
    src.write_bytes(b"server v2")
    fake.upload(src, f"{remote_root}/f.txt")
    root = tmp_path / "L"
    root.mkdir()
    (root / "f.txt").write_bytes(b"local v2")
    st = os.stat(root / "f.txt")
    todo = plan({"f.txt": _entry(b"v1")}, {"f.txt": _entry(b"local v2")}, {"f.txt": _entry(b"server v2")},
                host="h")  # fmt: skip
    assert [a.op for a in todo.actions] == [Op.CONFLICT]
    copy = todo.actions[0].dest
    assert copy is not None

    def own_write(rel: str) -> None:
        if rel == copy:  # the local version was just renamed aside: the user saves again right now
            (root / "f.txt").write_bytes(b"user save v3")

    events: list[SyncEvent] = []
    db = StateDB(tmp_path / "state.sqlite3")
    try:
        context = ExecContext(
            local_ids={"f.txt": (st.st_ino, st.st_size, st.st_mtime_ns)}, own_write=own_write
        )
        Executor(fake, root, remote_root, db, events.append, context).run(
            todo, {"f.txt": _entry(b"server v2")}
        )
    finally:
        db.close()
    kept = {p.read_bytes() for p in root.iterdir() if p.is_file()}
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    trashed = {p.read_bytes() for p in trash.iterdir()} if trash.is_dir() else set()
    assert b"user save v3" in kept | trashed, (kept, trashed)
    assert b"local v2" in kept  # the conflicted copy
