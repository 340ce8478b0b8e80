"""Issue 16, "one bad item stops everything": a per-file problem stays per-file on every path (URL
prefetch, batch signing, plan, execute), held-back deletions hold back nothing else, and odd local
files (future mtimes, FIFOs, refused names, long names) are synced or said once. The real engine
against the real server + SeaweedFS, real folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import (
    CycleDone,
    ProblemChanged,
    ProblemKind,
    SyncConfig,
    SyncEngine,
    SyncProblem,
    SyncState,
)

FAST = SyncConfig(min_file_age=0.0, host_name="ws1", retry_base=0.5)


def make_engine(
    client: DataManagerClient, local: Path, tmp_path: Path, remote: str = "sync", **cfg: object
) -> SyncEngine:
    config = SyncConfig(**{**FAST.__dict__, **cfg})
    return SyncEngine(client, local, f"{client.home}/{remote}", config, state_dir=tmp_path / "state")


def write(p: Path, data: bytes | str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)


def remote_names(client: DataManagerClient, root: str) -> set[str]:
    return {m.path[len(root) + 1 :] for m in client.list_recursive(root)}


def by_path(engine: SyncEngine) -> dict[str | None, SyncProblem]:
    return {p.path: p for p in engine.problems()}


def test_refused_names_stay_per_file_and_are_told_once(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A backslash (refused by the client library before any request) and the literal names ``%2e`` /
    ``%2e%2e`` (refused by the server with a 400) among batched uploads: everything else is uploaded,
    each refused name is one problem saying why, with no automatic retry, and the next cycles neither
    try it again nor report it again. Renaming the file clears the problem and syncs it."""
    a = tmp_path / "A"
    for i in range(5):
        write(a / f"ok{i}.txt", f"ok {i}")
    write(a / "dir\\name.txt", "backslash")
    write(a / "%2e", "dot")
    write(a / "sub/%2e%2e", "dotdot")
    eng = make_engine(client, a, tmp_path / "s")
    events: list[object] = []
    eng.subscribe(events.append)
    r = eng.sync_once()
    assert r.blocked is None, r.blocked
    assert r.uploaded == 5 and eng.state is SyncState.IDLE
    names = remote_names(client, eng.remote_root)
    assert {f"ok{i}.txt" for i in range(5)} | {"sub"} <= names
    assert not names & {"dir\\name.txt", "%2e", "sub/%2e%2e"}
    probs = by_path(eng)
    assert set(probs) == {"dir\\name.txt", "%2e", "sub/%2e%2e"}
    for p in eng.problems():
        assert p.kind is ProblemKind.BAD_NAME and p.retry_at is None and p.attempts == 1, p
    assert "backslash" in probs["dir\\name.txt"].message
    assert "'.' and '..'" in probs["%2e"].message
    assert not r.converged
    reported = sum(isinstance(e, ProblemChanged) for e in events)
    for _ in range(2):  # no second attempt, no second report
        r2 = eng.sync_once()
        assert r2.blocked is None and r2.planned == 0 and r2.uploaded == 0
    assert sum(isinstance(e, ProblemChanged) for e in events) == reported
    assert all(p.attempts == 1 for p in eng.problems())
    os.rename(a / "dir\\name.txt", a / "dir-name.txt")
    r3 = eng.sync_once()
    assert r3.uploaded == 1 and "dir-name.txt" in remote_names(client, eng.remote_root)
    assert set(by_path(eng)) == {"%2e", "sub/%2e%2e"}
    eng.close()


def test_a_refused_folder_that_empties_a_level_is_not_a_crash(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A folder chain whose key passes the server's limit: the folder it refuses is one problem, the
    levels below it are simply not attempted (an empty batch is no error) and the rest syncs."""
    a = tmp_path / "A"
    deep = a.joinpath(*[f"{i}" + "d" * 199 for i in range(6)])
    write(deep / "data.txt", "deep")
    write(a / "fine.txt", "fine")
    eng = make_engine(client, a, tmp_path / "s")
    r = eng.sync_once()
    assert r.blocked is None, r.blocked
    assert "fine.txt" in remote_names(client, eng.remote_root)
    probs = eng.problems()
    assert len(probs) == 1 and probs[0].kind is ProblemKind.BAD_NAME and "longer than" in probs[0].message
    assert probs[0].retry_at is None
    r2 = eng.sync_once()
    assert r2.blocked is None and r2.planned == 0
    eng.close()


def test_future_mtime_syncs_once_it_is_unchanged_for_the_settle_time(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "A"
    write(a / "future.txt", "from 2099")
    later = time.time() + 3600
    os.utime(a / "future.txt", (later, later))
    eng = make_engine(client, a, tmp_path / "s", min_file_age=0.5)
    r = eng.sync_once()
    assert r.busy == ["future.txt"]  # seen for the first time: it has to stay unchanged a while
    time.sleep(0.6)
    r = eng.sync_once()
    assert r.uploaded == 1 and r.busy == [] and r.converged
    eng.close()


def test_watch_mode_neither_stalls_nor_spins_on_a_future_mtime(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "A"
    write(a / "first.txt", "1")
    eng = make_engine(client, a, tmp_path / "s", min_file_age=0.5, poll_interval=60.0)
    cycles: list[float] = []
    eng.subscribe(lambda ev: cycles.append(time.monotonic()) if isinstance(ev, CycleDone) else None)
    eng.start()
    try:
        deadline = time.monotonic() + 20
        while not cycles and time.monotonic() < deadline:
            time.sleep(0.05)
        write(a / "future.txt", "from the future")
        later = time.time() + 3600
        os.utime(a / "future.txt", (later, later))
        start = time.monotonic()
        while time.monotonic() < start + 15 and not client.exists(f"{eng.remote_root}/future.txt"):
            time.sleep(0.1)
        assert client.exists(f"{eng.remote_root}/future.txt")
        assert time.monotonic() - start < 5
        time.sleep(2.0)
        quiet = [t for t in cycles if t > time.monotonic() - 2.0]
        assert len(quiet) <= 1, f"{len(quiet)} cycles in 2 s with nothing to do"
    finally:
        eng.close()


def test_fifo_is_listed_as_not_synced(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "A"
    write(a / "real.txt", "r")
    os.mkfifo(a / "pipe")
    eng = make_engine(client, a, tmp_path / "s")
    r = eng.sync_once()
    assert r.uploaded == 1 and r.converged  # told, but nothing is wrong
    probs = by_path(eng)
    assert set(probs) == {"pipe"}
    assert probs["pipe"].kind is ProblemKind.SPECIAL
    assert "not synced" in probs["pipe"].message.lower()
    os.unlink(a / "pipe")
    eng.sync_once()
    assert eng.problems() == []
    eng.close()


def test_mass_delete_holds_back_only_the_deletions(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Like ``git gc``: most files deleted at once. The deletions wait for confirmation; uploads,
    downloads and everything else carry on, and the engine lists what waits."""
    a = tmp_path / "A"
    for i in range(20):
        write(a / f"objects/f{i}.pack", str(i))
    write(a / "keep.txt", "keep")
    ea = make_engine(client, a, tmp_path / "sa")
    assert ea.sync_once().uploaded == 21
    for i in range(15):
        (a / f"objects/f{i}.pack").unlink()
    write(a / "objects/new.pack", "packed")
    write(a / "keep.txt", "edited locally")
    client.upload(a / "objects/new.pack", f"{ea.remote_root}/from-server.txt")
    r = ea.sync_once()
    assert r.blocked is None, r.blocked
    assert r.uploaded == 2 and r.downloaded == 1 and r.deleted_remote == 0
    assert not r.converged and ea.state is SyncState.IDLE
    names = remote_names(client, ea.remote_root)
    assert {f"objects/f{i}.pack" for i in range(20)} <= names  # nothing deleted yet
    assert (a / "from-server.txt").read_text() == "packed"
    pending = ea.pending_deletions()
    assert pending.remote == sorted(f"objects/f{i}.pack" for i in range(15)) and pending.local == []
    pair = [p for p in ea.problems() if not p.path]
    assert [p.kind for p in pair] == [ProblemKind.MASS_DELETE] and "15 of 21" in pair[0].message
    r = ea.sync_once()  # still waiting, still nothing else to do
    assert r.deleted_remote == 0 and r.uploaded == 0 and r.blocked is None
    ea.approve_deletions()
    r = ea.sync_once()
    assert r.converged and r.deleted_remote == 15
    assert ea.pending_deletions().remote == [] and ea.problems() == []
    ea.close()


def test_conflict_on_a_name_at_the_byte_limit(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A true conflict on a 255-byte name of multi-byte characters: the conflicted copy's name is
    shortened to fit, both versions are kept on both sides."""
    name = "é" * 122 + "ö.fastq.gz"  # 244 + 2 + 9 = 255 bytes
    assert len(name.encode()) == 255
    a, b = tmp_path / "A", tmp_path / "B"
    write(a / name, "base")
    ea, eb = make_engine(client, a, tmp_path / "sa"), make_engine(client, b, tmp_path / "sb", host_name="ws2")
    assert ea.sync_once().converged and eb.sync_once().converged
    write(a / name, "from A")
    write(b / name, "from B")
    assert ea.sync_once().converged
    r = eb.sync_once()
    assert r.converged and r.conflicts == 1, r.problems
    copies = [p for p in os.listdir(b) if "conflicted copy" in p]
    assert len(copies) == 1 and len(copies[0].encode()) <= 255 and copies[0].endswith(").fastq.gz")
    assert (b / copies[0]).read_text() == "from B" and (b / name).read_text() == "from A"
    assert ea.sync_once().converged
    assert (a / copies[0]).read_text() == "from B"
    ea.close()
    eb.close()
