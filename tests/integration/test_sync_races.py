"""Races that used to cost the user's latest version (issue 16, items 1-3), on the real server.

* a file saved again while its own upload runs must end as the latest save everywhere;
* near-simultaneous edits on two machines: an upload never replaces a server version its plan did not
  see (conditional uploads); the loser keeps its version as a conflicted copy;
* file versus folder: a failed step stops the steps that depended on it, and nothing is trashed on a
  plan that step invalidated.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import SyncEngine
from gsdesktop.sync.events import FileProgress, StateChanged, SyncEvent, SyncState
from tests.integration.test_sync_engine import make_engine, remote_tree, tree, write


def trash(home: Path) -> list[bytes]:
    out = []
    for dirpath, _, files in os.walk(home / ".local/share/Trash/files"):
        out += [(Path(dirpath) / f).read_bytes() for f in files]
    return out


def save(p: Path, data: bytes) -> None:
    """An editor's atomic save: write a temporary file, rename it over the target."""
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, p)


def upload_started(engine: SyncEngine, rel: str) -> threading.Event:
    started = threading.Event()

    def on(ev: SyncEvent) -> None:
        if isinstance(ev, FileProgress) and ev.path == rel and ev.done > 0:
            started.set()

    engine.subscribe(on)
    return started


SIZE = 2 * 1024 * 1024


@pytest.mark.parametrize("again", ["old", "new"])
def test_a_save_during_its_own_upload_is_never_reverted(
    client: DataManagerClient, tmp_path: Path, tmp_home: Path, again: str
) -> None:
    """Item 1, engine level: X synced; save Y; while Y uploads (throttled), save X again (or a new Z).
    The cycles that follow (one on the cached remote listing, as watch mode runs after a local event,
    then a polling one) must end with the latest save locally and on the server, and no conflict."""
    a = tmp_path / "A"
    x, y, z = (bytes([c]) * SIZE for c in b"XYZ")
    write(a / "f.bin", x)
    eng = make_engine(client, a, tmp_path / "sa", max_upload_bps=SIZE)  # about 2 s per upload
    try:
        assert eng.sync_once().converged
        save(a / "f.bin", y)
        started = upload_started(eng, "f.bin")
        cycle = threading.Thread(target=eng.sync_once)
        cycle.start()
        assert started.wait(30)
        latest = x if again == "old" else z
        save(a / "f.bin", latest)
        cycle.join(60)
        eng.db.reset_backoff()
        eng.run_cycle(refresh_remote=False, verify_remote=True)  # a local event: cached remote listing
        for _ in range(4):
            eng.db.reset_backoff()
            if eng.sync_once().converged and eng.sync_once().planned == 0:
                break
        assert (a / "f.bin").read_bytes() == latest
        assert remote_tree(client, eng.remote_root) == {"f.bin": latest}
        assert tree(a) == {"f.bin": latest}, "no conflicted copy: only this side edited"
        assert latest not in trash(tmp_home)
    finally:
        eng.close()


def test_a_save_during_its_own_upload_in_watch_mode_reaches_the_other_machine(
    client: DataManagerClient, tmp_path: Path, tmp_home: Path
) -> None:
    """Item 1 as reported: watch mode polling every 30 s, uploads limited; Y is saved while the watcher
    is stopped, the watcher starts uploading it, and X is saved again 1 s later. Within the poll
    interval the server and the other machine must hold X, and X must not be in a trash."""
    import hashlib

    a, b = tmp_path / "A", tmp_path / "B"
    x, y = os.urandom(SIZE), os.urandom(SIZE)
    write(a / "f.bin", x)
    ea = make_engine(client, a, tmp_path / "sa", host_name="hostA", poll_interval=30.0,
                     max_upload_bps=SIZE // 2)  # fmt: skip
    eb = make_engine(client, b, tmp_path / "sb", host_name="hostB")
    try:
        assert ea.sync_once().converged and eb.sync_once().converged
        save(a / "f.bin", y)
        started = upload_started(ea, "f.bin")
        ea.start()
        assert started.wait(30)
        time.sleep(1.0)
        save(a / "f.bin", x)
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            if client.metadata(f"{ea.remote_root}/f.bin").md5 == hashlib.md5(x).hexdigest():
                break
            time.sleep(0.2)
        ea.stop()
        assert (a / "f.bin").read_bytes() == x
        converge(ea, eb)
        assert tree(a) == tree(b) == remote_tree(client, ea.remote_root) == {"f.bin": x}
        assert x not in trash(tmp_home)
    finally:
        ea.close()
        eb.close()


def versions(root: Path, name: str) -> dict[str, bytes]:
    """The file ``name`` and its conflicted copies under ``root``."""
    stem = name.split(".")[0]
    return {p: v for p, v in tree(root).items() if v is not None and p.startswith(stem)}


def test_an_upload_never_replaces_a_version_its_plan_did_not_see(
    client: DataManagerClient, tmp_path: Path, tmp_home: Path
) -> None:
    """Item 2, deterministic: A plans its upload on X; B's upload of its own edit lands just before
    A's. A's upload must be refused and A's version become a conflicted copy (not B's in a trash)."""
    a, b = tmp_path / "A", tmp_path / "B"
    write(a / "f.txt", "X")
    ea = make_engine(client, a, tmp_path / "sa", host_name="hostA")
    eb = make_engine(client, b, tmp_path / "sb", host_name="hostB")
    try:
        assert ea.sync_once().converged and eb.sync_once().converged
        save(a / "f.txt", b"from A")
        save(b / "f.txt", b"from B")
        fired = threading.Event()

        def b_first(ev: SyncEvent) -> None:  # A has planned; B's upload lands before A's
            if isinstance(ev, StateChanged) and ev.state is SyncState.SYNCING and not fired.is_set():
                fired.set()
                assert eb.sync_once().uploaded == 1

        ea.subscribe(b_first)
        ra = ea.sync_once()
        assert fired.is_set() and ra.converged and ra.conflicts == 1
        assert eb.sync_once().converged and ea.sync_once().planned == 0
        ta = tree(a)
        assert ta == tree(b) == remote_tree(client, ea.remote_root)
        assert ta["f.txt"] == b"from B"
        copies = [v for p, v in ta.items() if "conflicted copy hostA" in p]
        assert copies == [b"from A"]
        assert [c.path for c in ea.conflicts()] == ["f.txt"]
        assert trash(tmp_home) == []
    finally:
        ea.close()
        eb.close()


def converge(*engines: SyncEngine) -> None:
    for _ in range(6):
        reports = [e.sync_once(force_retry=True) for e in engines]
        if all(r.converged and r.planned == 0 for r in reports):
            return
    raise AssertionError(f"no convergence: {reports}")


def test_near_simultaneous_edits_on_two_machines_keep_both_versions(  # type: ignore[no-untyped-def]
    account, seaweed, tmp_path: Path, tmp_home: Path
) -> None:
    """Item 2 with real timing: A and B (on two server replicas over one store) edit one file 0-100 ms
    apart and sync at once, 12 rounds. Every version written is the final content or a conflicted
    copy on both machines and the server - never only in a trash."""
    import random

    from tests.support.servers import ServerProcess

    replica = ServerProcess(tmp_path / "replica", seaweed).start()
    ca = DataManagerClient(account.server_url, account.username, account.password)
    cb = DataManagerClient(replica.url, account.username, account.password)
    a, b = tmp_path / "A", tmp_path / "B"
    ea = make_engine(ca, a, tmp_path / "sa", host_name="hostA")
    eb = make_engine(cb, b, tmp_path / "sb", host_name="hostB")
    rng = random.Random()
    try:
        for i in range(12):
            name = f"f{i}.txt"
            write(a / name, f"start {i}")
            converge(ea, eb)
            va, vb = f"A{i}".encode(), f"B{i}".encode()
            gap = rng.uniform(0.0, 0.1)
            first, second = ((ea, a, va), (eb, b, vb)) if rng.random() < 0.5 else ((eb, b, vb), (ea, a, va))

            def run(side: tuple[SyncEngine, Path, bytes], delay: float, name: str = name) -> None:
                time.sleep(delay)
                save(side[1] / name, side[2])
                side[0].sync_once()

            threads = [threading.Thread(target=run, args=(first, 0.0)),
                       threading.Thread(target=run, args=(second, gap))]  # fmt: skip
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            converge(ea, eb)
            ta = versions(a, name)
            assert ta == versions(b, name), f"round {i}"
            assert sorted(ta.values()) == sorted([va, vb]), f"round {i}: gap {gap:.3f}: {ta}"
        assert tree(a) == remote_tree(ca, ea.remote_root)
    finally:
        ea.close()
        eb.close()
        ca.close()
        cb.close()
        replica.stop()


def test_file_replaced_by_folder_while_the_other_machine_appends(
    client: DataManagerClient, tmp_path: Path, tmp_home: Path
) -> None:
    """Item 3: A replaces file x by a folder x/ while B appends to x (B's upload lands after A planned
    on the old listing). A's removal of the server's x fails (it changed), so the folder must not be
    created over it, and nothing may be trashed on that plan: in the end x/ holds A's file and B's
    appended x survives as a conflicted copy on both machines and the server."""
    a, b = tmp_path / "A", tmp_path / "B"
    write(a / "x", "line 1\n")
    ea = make_engine(client, a, tmp_path / "sa", host_name="hostA")
    eb = make_engine(client, b, tmp_path / "sb", host_name="hostB")
    try:
        assert ea.sync_once().converged and eb.sync_once().converged
        (a / "x").unlink()
        write(a / "x/fromA.txt", "A's file")
        with open(b / "x", "ab") as fh:
            fh.write(b"line 2 from B\n")
        fired = threading.Event()

        def b_first(ev: SyncEvent) -> None:
            if isinstance(ev, StateChanged) and ev.state is SyncState.SYNCING and not fired.is_set():
                fired.set()
                assert eb.sync_once().uploaded == 1

        ea.subscribe(b_first)
        first = ea.sync_once()
        assert fired.is_set()
        # the failed removal stopped the steps that depended on it: no folder was asked for over B's
        # file (which a server racing with the upload could have created beside it), no error shown
        assert first.folders_created == 0 and first.uploaded == 0 and first.problems == []
        converge(ea, eb)
        ta = tree(a)
        assert ta == tree(b) == remote_tree(client, ea.remote_root)
        assert ta["x"] is None and ta["x/fromA.txt"] == b"A's file"
        copies = {p: v for p, v in ta.items() if "conflicted copy" in p}
        assert list(copies.values()) == [b"line 1\nline 2 from B\n"], ta
        assert b"A's file" not in trash(tmp_home)
    finally:
        ea.close()
        eb.close()


def test_a_server_listing_a_file_and_a_folder_of_one_name_costs_nothing_locally(  # type: ignore[no-untyped-def]
    client: DataManagerClient, seaweed, account, tmp_path: Path, tmp_home: Path
) -> None:
    """Item 3, the outcome the race left in the store: a file ``x`` beside the folder ``x/``. The server
    settles such a clash the first time it lists the name (the folder keeps it, the file moves to
    ``x (file clashed with folder …)``, see the hardening issue); the engines then converge with both
    contents, and neither trashes nor replaces anything. (An engine that is shown both at once, by a
    server that does not settle them, leaves the name alone: tests/unit/test_sync_state.py.)"""
    from gsdesktop.server.paths import DMPath
    from gsdesktop.server.storage import S3Store

    a, b = tmp_path / "A", tmp_path / "B"
    write(a / "x/fromA.txt", "A's file")
    write(a / "keep.txt", "k")
    ea = make_engine(client, a, tmp_path / "sa", host_name="hostA")
    eb = make_engine(client, b, tmp_path / "sb", host_name="hostB")
    store = S3Store(seaweed)
    rel = ea.remote_root.split("/", 3)[3]  # the sync folder inside the user's home
    try:
        assert ea.sync_once().converged
        # the race's outcome: a file x stored beside the folder x/ (as a racing upload left it)
        store.put_bytes(DMPath(account.username, f"{rel}/x").key, b"B's appended x")
        converge(ea, eb)
        got = tree(a)
        clashed = [name for name in got if name.startswith("x (file clashed with folder ")]
        assert len(clashed) == 1 and got[clashed[0]] == b"B's appended x", got
        assert got["x/fromA.txt"] == b"A's file" and got["keep.txt"] == b"k" and got["x"] is None
        assert tree(b) == got
        assert trash(tmp_home) == []
    finally:
        ea.close()
        eb.close()
