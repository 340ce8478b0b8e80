"""A save that lands while sync puts a conflict aside is never overwritten (found by the fast tier, seed
117289: a version written between the executor's rename of the local file to its conflicted copy and the
placement of the server's version was replaced without a trace). The real executor, real files, the fake
remote; the user's save is made at the exact moment through the executor's ``own_write`` seam (called
right after the rename)."""

from __future__ import annotations

import os
from pathlib import Path

from gsdesktop.sync.events import SyncEvent
from gsdesktop.sync.executor import ExecContext, Executor
from gsdesktop.sync.planner import Op, plan
from gsdesktop.sync.state import StateDB
from tests.support.executor_pair import entry_of, one_file, trashed


def test_a_save_between_the_conflict_rename_and_the_download_is_kept(tmp_path: Path, tmp_home: Path) -> None:
    fake, remote_root, root = one_file(tmp_path, "f.txt", b"server v2", b"local v2")
    st = os.stat(root / "f.txt")
    base, local, remote = ({"f.txt": entry_of(v)} for v in (b"v1", b"local v2", b"server v2"))
    todo = plan(base, local, remote, host="h")
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
            todo, {"f.txt": entry_of(b"server v2")}
        )
    finally:
        db.close()
    kept = {p.read_bytes() for p in root.iterdir() if p.is_file()}
    in_trash = set(trashed())
    assert b"user save v3" in kept | in_trash, (kept, in_trash)
    assert b"local v2" in kept  # the conflicted copy
