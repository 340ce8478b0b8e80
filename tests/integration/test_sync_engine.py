"""The real engine against the real server + SeaweedFS: two local folders synced to one remote folder."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import ActionDone, ActionKind, ProblemKind, SyncConfig, SyncEngine, SyncMode
from gsdesktop.sync.scanner import MARKER

FAST = SyncConfig(min_file_age=0.0, host_name="ws1", retry_base=0.5)


def make_engine(
    client: DataManagerClient, local: Path, tmp_path: Path, remote: str = "sync", **cfg: object
) -> SyncEngine:
    config = SyncConfig(**{**FAST.__dict__, **cfg})
    return SyncEngine(client, local, f"{client.home}/{remote}", config, state_dir=tmp_path / "state")


def tree(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d != ".gsdesktop-cache"]
        if rel != ".":
            out[rel] = None
        for f in filenames:
            if f == MARKER:
                continue
            p = Path(dirpath) / f
            out[os.path.relpath(p, root)] = p.read_bytes()
    return out


def remote_tree(client: DataManagerClient, root: str) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for m in client.list_recursive(root):
        rel = m.path[len(root) + 1 :]
        out[rel] = None if m.is_directory else client_read(client, m.path)
    return out


def client_read(client: DataManagerClient, path: str) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "f"
        client.download(path, target)
        return target.read_bytes()


def write(p: Path, data: bytes | str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)


def test_two_folders_converge_with_conflict_and_edit_beats_delete(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "A", tmp_path / "B"
    write(a / "docs/readme.txt", "hello")
    write(a / "data/x.bin", os.urandom(3000))
    (a / "empty").mkdir()
    ea = make_engine(client, a, tmp_path / "sa")
    eb = make_engine(client, b, tmp_path / "sb", host_name="ws2")
    r1 = ea.sync_once()
    assert r1.converged and r1.uploaded == 2 and r1.folders_created == 3
    r2 = eb.sync_once()
    assert r2.converged and r2.downloaded == 2
    assert tree(a) == tree(b)
    assert (b / "empty").is_dir()

    # both edit the same file differently -> conflict copy; one deletes, other edits -> edit wins
    write(a / "docs/readme.txt", "from A")
    write(b / "docs/readme.txt", "from B")
    (a / "data/x.bin").unlink()
    write(b / "data/x.bin", "edited in B")
    assert ea.sync_once().converged
    rb = eb.sync_once()
    assert rb.converged and rb.conflicts == 1
    assert ea.sync_once().converged
    ta, tb = tree(a), tree(b)
    assert ta == tb
    assert ta["docs/readme.txt"] == b"from A"  # the remote version keeps the name
    copies = [p for p in ta if "conflicted copy ws2" in p]
    assert len(copies) == 1 and ta[copies[0]] == b"from B"
    assert ta["data/x.bin"] == b"edited in B"
    assert [c.path for c in eb.conflicts()] == ["docs/readme.txt"]
    assert [x.path for x in eb.recent_activity() if x.kind is ActionKind.CONFLICT_COPY] == copies
    assert remote_tree(client, ea.remote_root) == ta

    # idempotence: a second cycle transfers nothing
    for e in (ea, eb):
        r = e.sync_once()
        assert r.planned == 0 and r.transfers == 0 and r.bytes_up == 0 and r.bytes_down == 0


def test_rename_propagates_as_move_and_delete_goes_to_trash(client, tmp_path: Path, tmp_home: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "A", tmp_path / "B"
    for i in range(3):
        write(a / f"run1/s{i}.fastq", f"reads {i}" * 100)
    ea, eb = make_engine(client, a, tmp_path / "sa"), make_engine(client, b, tmp_path / "sb")
    ea.sync_once()
    eb.sync_once()
    os.rename(a / "run1", a / "run1-final")
    events: list[object] = []
    ea.subscribe(events.append)
    r = ea.sync_once()
    assert r.converged and r.uploaded == 0  # moved on the server, not re-uploaded
    assert any(isinstance(e, ActionDone) and e.kind is ActionKind.MOVED_REMOTE for e in events)
    r = eb.sync_once()
    assert r.downloaded == 0 and tree(b) == tree(a)
    moved = [x.path for x in eb.recent_activity() if x.kind is ActionKind.MOVED_LOCAL]
    assert moved == ["run1-final"]  # the folder, renamed as one (issue 16 item 12)
    # a remote delete reaches B's trash, not oblivion
    (a / "run1-final/s0.fastq").unlink()
    ea.sync_once()
    rb = eb.sync_once()
    assert rb.deleted_local == 1 and not (b / "run1-final/s0.fastq").exists()
    trash = tmp_home / ".local/share/Trash/files"
    assert (trash / "s0.fastq").read_text() == "reads 0" * 100


def test_mass_delete_held_and_missing_marker_blocks_until_approved(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "A"
    for i in range(20):
        write(a / f"f{i}.txt", str(i))
    ea = make_engine(client, a, tmp_path / "sa")
    assert ea.sync_once().uploaded == 20
    for i in range(15):
        (a / f"f{i}.txt").unlink()
    r = ea.sync_once()
    assert r.blocked is None and r.held_deletions == 15 and not r.converged  # held back, not a stop
    assert [p.kind for p in ea.problems()] == [ProblemKind.MASS_DELETE]
    assert len(client.list_recursive(ea.remote_root)) == 20  # nothing deleted
    ea.approve_deletions()
    r = ea.sync_once()
    assert r.converged and r.deleted_remote == 15
    # an empty mount point: marker gone -> nothing is deleted remotely
    for p in a.iterdir():
        if p.is_file():
            p.unlink()
    r = ea.sync_once()
    assert r.blocked is not None and r.blocked.kind is ProblemKind.ROOT_MISSING
    assert len(client.list_recursive(ea.remote_root)) == 5
    # approving a root problem re-adopts the folder: both sides merge, nothing is deleted
    ea.approve_deletions()
    r = ea.sync_once()
    assert r.converged and r.deleted_remote == 0 and r.downloaded == 5
    assert sorted(p.name for p in a.glob("f*")) == [f"f{i}.txt" for i in range(15, 20)]


def test_upload_only_and_selective_sync(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "A", tmp_path / "B"
    write(a / "keep/x.txt", "x")
    write(a / "big/huge.bin", "h")
    ea = make_engine(client, a, tmp_path / "sa")
    ea.sync_once()
    eb = make_engine(client, b, tmp_path / "sb", excluded_remote_folders=("big",))
    assert eb.sync_once().converged
    assert tree(b) == {"keep": None, "keep/x.txt": b"x"}
    # instrument PC: upload-only never changes local files
    inst = make_engine(client, tmp_path / "I", tmp_path / "si", mode=SyncMode.UPLOAD_ONLY, remote="inst")
    write(tmp_path / "I/run.csv", "1,2")
    assert inst.sync_once().uploaded == 1
    client.upload(a / "keep/x.txt", f"{client.home}/inst/server-side.txt")
    r = inst.sync_once()
    assert r.converged and r.downloaded == 0 and not (tmp_path / "I/server-side.txt").exists()
    # download-only: local edits never reach the server; a remote change wins, the local edit is kept aside
    mirror = make_engine(client, tmp_path / "M", tmp_path / "sm", mode=SyncMode.DOWNLOAD_ONLY, remote="inst")
    assert mirror.sync_once().downloaded == 2
    write(tmp_path / "M/run.csv", "local scribble")
    write(tmp_path / "M/mine.txt", "never uploaded")
    assert mirror.sync_once().uploaded == 0
    write(tmp_path / "I/run.csv", "3,4")
    inst.sync_once()
    r = mirror.sync_once()
    assert (tmp_path / "M/run.csv").read_text() == "3,4" and r.conflicts == 1
    assert sorted(remote_tree(client, f"{client.home}/inst")) == ["run.csv", "server-side.txt"]
    assert [c.path for c in mirror.conflicts()] == ["run.csv"]


def test_symlinks_reported_once_and_not_followed(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "A"
    write(a / "real.txt", "r")
    os.symlink(tmp_path, a / "loop")
    ea = make_engine(client, a, tmp_path / "sa")
    seen: list[object] = []
    ea.subscribe(seen.append)
    r = ea.sync_once()
    assert r.uploaded == 1
    assert [p.path for p in ea.problems() if p.kind is ProblemKind.SYMLINK] == ["loop"]
    n = len([e for e in seen if type(e).__name__ == "ProblemChanged"])
    ea.sync_once()
    assert len([e for e in seen if type(e).__name__ == "ProblemChanged"]) == n  # not re-reported
    assert "loop" not in remote_tree(client, ea.remote_root)
    time.sleep(0)


def test_bandwidth_limits_hold_for_large_files(client: DataManagerClient, tmp_path: Path) -> None:
    """A 70 MiB file goes up in parallel parts and comes down in parallel ranges; with 20 MiB/s limits
    each way neither may take less than 3 s, although the limiter only sleeps in the progress
    callbacks of a transfer that runs on several threads."""
    mib = 1024 * 1024
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "big.bin").write_bytes(os.urandom(70 * mib))
    limits: dict[str, Any] = {"max_upload_bps": 20 * mib, "max_download_bps": 20 * mib}
    up_engine = make_engine(client, a, tmp_path / "ea", **limits)
    down_engine = make_engine(client, b, tmp_path / "eb", **limits)
    try:
        start = time.monotonic()
        assert up_engine.sync_once().converged
        up = time.monotonic() - start
        assert client.metadata(f"{client.home}/sync/big.bin").size == 70 * mib
        start = time.monotonic()
        assert down_engine.sync_once().converged
        down = time.monotonic() - start
    finally:
        up_engine.close()
        down_engine.close()
    assert (b / "big.bin").read_bytes() == (a / "big.bin").read_bytes()
    # 70 MiB at 20 MiB/s is 3.5 s, less at most 0.5 s of idle credit (unlimited: 0.95 s up, 0.36 s down here)
    assert up >= 2.9 and down >= 2.9, (up, down)
