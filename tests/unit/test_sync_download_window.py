"""A save that lands while a download replaces the local file is never lost (issue 16; found by the fast
tier with ``GSDESKTOP_FAST_LOCAL_RACES=1``, about 1 seed in 3,000): the executor checked the local file's
identity, put the version it replaces in the trash, then renamed the download over the name, so an
editor's save (temp file + rename over the name) landing between the check and the rename was replaced
and kept nowhere. The real executor, real files in a temp folder, the real trash (in a temp HOME), the
fake remote; the user's save is made at the exact moment through the executor's own trash step, which
runs after the last check and before the download takes the name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gsdesktop.sync import swap
from gsdesktop.sync.events import ConflictDetected, SyncEvent
from gsdesktop.sync.executor import ExecContext, Executor
from gsdesktop.sync.localfs import clean_cache
from gsdesktop.sync.planner import CONFLICT_MARK, MAX_NAME_BYTES, Op, plan
from gsdesktop.sync.state import StateDB
from tests.support.executor_pair import entry_of, one_file, trashed
from tests.support.fakeremote import FakeRemote

ROUNDS = 10


def _save(path: Path, data: bytes) -> None:
    """An editor's atomic save: a temp file beside the target, renamed over it."""
    tmp = path.with_name(".save.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class SaveInTheWindow(Executor):
    """The real executor; the user saves the file while the executor trashes the version it replaces
    (after the last check of the local file, before the download takes its name)."""

    save: tuple[Path, bytes] | None = None

    def _trash(self, p: Path) -> None:
        super()._trash(p)
        if self.save is not None:
            _save(*self.save)
            self.save = None


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the executor handles it)."""


class CrashAfterTheExchange(SaveInTheWindow):
    """The save lands in the window, and the process dies right after the exchange swapped it out (before
    it is kept as a conflicted copy)."""

    def _keep_aside(self, src: Path, rel: str) -> str:
        raise Crash


def _download_over(
    tmp: Path, name: str, user_save: bytes | None, executor: type[SaveInTheWindow] = SaveInTheWindow
) -> tuple[Path, FakeRemote, list[SyncEvent]]:
    """Sync folder ``tmp/L`` holds ``name`` = b"v1" (synced); the server holds b"server v2": the plan
    downloads it; ``user_save`` (if any) lands in the window."""
    fake, remote_root, root = one_file(tmp, name, b"server v2", b"v1")
    st = os.stat(root / name)
    todo = plan({name: entry_of(b"v1")}, {name: entry_of(b"v1")}, {name: entry_of(b"server v2")}, host="h")
    assert [a.op for a in todo.actions] == [Op.DOWNLOAD]
    events: list[SyncEvent] = []
    db = StateDB(tmp / "state.sqlite3")
    try:
        context = ExecContext(local_ids={name: (st.st_ino, st.st_size, st.st_mtime_ns)}, host="h")
        ex = executor(fake, root, remote_root, db, events.append, context)
        if user_save is not None:
            ex.save = (root / name, user_save)
        ex.run(todo, {name: entry_of(b"server v2")})
        recorded = db.conflicts()
    finally:
        db.close()
    assert [(c.path, c.conflict_copy) for c in recorded] == [
        (e.path, e.conflict_copy) for e in events if isinstance(e, ConflictDetected)
    ]
    return root, fake, events


@pytest.mark.skipif(not swap.SUPPORTED, reason="no atomic exchange on this platform (see the fallback test)")
def test_a_save_between_the_last_check_and_the_download_is_kept(tmp_path: Path, tmp_home: Path) -> None:
    for rnd in range(ROUNDS):
        save = f"user save {rnd}".encode()
        root, fake, events = _download_over(tmp_path / str(rnd), "f.txt", save)
        files = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
        assert files["f.txt"] == b"server v2"  # the server's version took the name
        copies = [n for n in files if n.startswith("f" + CONFLICT_MARK + "h ") and n.endswith(".txt")]
        assert [files[c] for c in copies] == [save], files  # the save: a conflicted copy beside it
        assert [(e.path, e.conflict_copy) for e in events if isinstance(e, ConflictDetected)] == [
            ("f.txt", copies[0])
        ]
        assert fake.read(f"{fake.home}/w/f.txt") == b"server v2"  # nothing lost on the server either
        assert not any(p.name.startswith("dl-") for p in (root / ".gsdesktop-cache").iterdir())
    assert sorted(trashed()) == [b"v1"] * ROUNDS  # the replaced version, as for any download


@pytest.mark.skipif(not swap.SUPPORTED, reason="no atomic exchange on this platform (see the fallback test)")
def test_a_save_swapped_out_when_the_process_dies_is_in_the_trash_after_the_restart(
    tmp_path: Path, tmp_home: Path
) -> None:
    """The swapped-out save waits in the cache folder for an instant; a crash there must not cost it: the
    next start's cache cleaning (which deletes partial downloads) sends it to the trash."""
    with pytest.raises(Crash):
        _download_over(tmp_path, "f.txt", b"user save", CrashAfterTheExchange)
    root = tmp_path / "L"
    assert (root / "f.txt").read_bytes() == b"server v2"
    clean_cache(root)  # as the engine's first cycle after a start does
    assert sorted(trashed()) == [b"user save", b"v1"]
    assert not [p for p in (root / ".gsdesktop-cache").iterdir() if p.is_file()]


@pytest.mark.skipif(not swap.SUPPORTED, reason="no atomic exchange on this platform")
def test_the_kept_save_of_a_name_at_the_length_limit_fits(tmp_path: Path, tmp_home: Path) -> None:
    name = "é" * 123 + ".fastq"  # 252 bytes: the conflicted copy's name is shortened to fit
    assert len(name.encode()) == 252
    root, _fake, events = _download_over(tmp_path, name, b"user save")
    copies = [e.conflict_copy for e in events if isinstance(e, ConflictDetected)]
    assert len(copies) == 1 and len(copies[0].encode()) <= MAX_NAME_BYTES and copies[0].endswith(".fastq")
    assert (root / copies[0]).read_bytes() == b"user save"
    assert (root / name).read_bytes() == b"server v2"


def test_without_the_exchange_a_download_replaces_the_file_as_before(
    tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system or the OS has no atomic exchange, the download replaces the checked version
    (which goes to the trash) as before; only the window stays (README: Sync)."""
    monkeypatch.setattr(swap, "_renameat2", None)
    root, _fake, events = _download_over(tmp_path, "f.txt", None)
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == {"f.txt": b"server v2"}
    assert not [e for e in events if isinstance(e, ConflictDetected)]
    assert trashed() == [b"v1"]


def test_a_download_with_no_save_in_the_window_replaces_the_file(tmp_path: Path, tmp_home: Path) -> None:
    root, _fake, events = _download_over(tmp_path, "f.txt", None)
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == {"f.txt": b"server v2"}
    assert not [e for e in events if isinstance(e, ConflictDetected)]
    assert trashed() == [b"v1"]


def test_a_download_over_a_long_name_keeps_the_old_version(tmp_path: Path, tmp_home: Path) -> None:
    """The replaced version's name in the trash is shortened to fit (it failed with "File name too long"
    for local names over about 230 bytes, and the download never happened)."""
    name = "é" * 123 + ".fastq"
    root, _fake, _events = _download_over(tmp_path, name, None)
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == {name: b"server v2"}
    assert trashed() == [b"v1"]


@pytest.mark.skipif(not swap.SUPPORTED, reason="no atomic exchange on this platform")
def test_a_save_while_a_server_rename_over_it_is_repeated_locally_is_kept(
    tmp_path: Path, tmp_home: Path
) -> None:
    """The same window for a local move over a file (a.txt renamed over b.txt on the server): a save of
    b.txt after the executor checked it became the move's victim; it is a conflicted copy now."""
    for rnd in range(ROUNDS):
        tmp = tmp_path / str(rnd)
        root = tmp / "L"
        root.mkdir(parents=True)
        (root / "a.txt").write_bytes(b"X")
        (root / "b.txt").write_bytes(b"Y")
        ids = {
            n: (st.st_ino, st.st_size, st.st_mtime_ns)
            for n in ("a.txt", "b.txt")
            for st in [os.stat(root / n)]
        }
        both = {"a.txt": entry_of(b"X"), "b.txt": entry_of(b"Y")}
        todo = plan(both, both, {"b.txt": entry_of(b"X")}, host="h")
        assert [(a.op, a.path, a.dest) for a in todo.actions] == [(Op.MOVE_LOCAL, "a.txt", "b.txt")]
        events: list[SyncEvent] = []
        db = StateDB(tmp / "state.sqlite3")
        try:
            ex = SaveInTheWindow(
                FakeRemote(), root, "/w", db, events.append, ExecContext(local_ids=ids, host="h")
            )
            save = f"user save {rnd}".encode()
            ex.save = (root / "b.txt", save)
            ex.run(todo, {"b.txt": entry_of(b"X")})
        finally:
            db.close()
        files = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
        copies = [e.conflict_copy for e in events if isinstance(e, ConflictDetected)]
        assert len(copies) == 1 and copies[0].startswith("b" + CONFLICT_MARK), events
        assert files == {"b.txt": b"X", copies[0]: save}
    assert sorted(trashed()) == [b"Y"] * ROUNDS


@pytest.mark.parametrize("where", ["new", "existing"])
def test_a_save_right_after_the_download_took_the_name_is_uploaded_next(
    where: str, tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fast tier with local races (seed 1000431): a save landing between the download
    taking the name and the engine reading the placed file's identity was recorded as the downloaded
    version (the server's MD5): never uploaded, and replaced without a trace by the next download. Two
    real engine cycles; the save is made by wrapping the executor's own placement step (the real one
    runs first)."""
    from gsdesktop.sync import SyncConfig, SyncEngine
    from gsdesktop.sync import executor as executor_mod

    for rnd in range(ROUNDS):
        tmp = tmp_path / str(rnd)
        fake = FakeRemote()
        remote_root = f"{fake.home}/w{rnd}"
        fake.mkdir(remote_root)
        local = tmp / "L"
        local.mkdir(parents=True)
        src = tmp / "server.bin"
        src.write_bytes(b"server v1")
        fake.upload(src, f"{remote_root}/f.txt")
        engine = SyncEngine(
            fake, local, remote_root, SyncConfig(min_file_age=0.0, host_name="h"), state_dir=tmp / "s"
        )
        try:
            if where == "existing":
                assert engine.sync_once().converged
                src.write_bytes(b"server v2")
                fake.upload(src, f"{remote_root}/f.txt")
            save = f"user save {rnd}".encode()
            real = executor_mod._place_new if where == "new" else swap.exchange

            def place_then_save(
                a: Path,
                b: Path,
                real: Callable[[Path, Path], object] = real,
                to: Path = local / "f.txt",
                save: bytes = save,
            ) -> object:
                done = real(a, b)
                _save(to, save)
                return done

            name = "_place_new" if where == "new" else "exchange"
            monkeypatch.setattr(executor_mod, name, place_then_save)
            engine.sync_once()
            monkeypatch.setattr(executor_mod, name, real)
            assert (local / "f.txt").read_bytes() == save
            engine.sync_once()  # the save is a local edit like any other: it goes up
            assert fake.read(f"{remote_root}/f.txt") == save
        finally:
            engine.close()
