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
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import SyncEngine
from gsdesktop.sync.events import FileProgress, SyncEvent
from tests.integration.test_sync_engine import client, make_engine, remote_tree, tree, write  # noqa: F401


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
    client: DataManagerClient, tmp_path: Path, tmp_home: Path, again: str  # noqa: F811
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
        eng._cycle(refresh_remote=False, verify_remote=True)  # a local event: cached remote listing
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
