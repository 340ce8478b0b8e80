"""Issue 16 items 10-12 against the real server: growing files, slow atomic saves, folder renames.

Two real folders, two engines, the real Data Manager on SeaweedFS; bytes sent and received are the
engines' own reports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import ActionDone, ActionKind, SyncConfig, SyncEngine
from gsdesktop.sync.events import SyncEvent
from tests.integration.test_sync_engine import tree, write

FAST = SyncConfig(min_file_age=0.0, host_name="ws1", retry_base=0.5)


@pytest.fixture
def client(account, tmp_home: Path) -> Iterator[DataManagerClient]:  # type: ignore[no-untyped-def]
    c = DataManagerClient(account.server_url, account.username, account.password, pool_size=32)
    c.login()
    yield c
    c.close()


def engine(
    client: DataManagerClient, local: Path, state: Path, remote: str = "inst", **cfg: object
) -> SyncEngine:
    config = SyncConfig(**{**FAST.__dict__, **cfg})  # type: ignore[arg-type]
    return SyncEngine(client, local, f"{client.home}/{remote}", config, state_dir=state)


class Actions:
    """The ActionDone events of one engine, by kind."""

    def __init__(self, eng: SyncEngine) -> None:
        self.events: list[ActionDone] = []
        eng.subscribe(self._on)

    def _on(self, ev: SyncEvent) -> None:
        if isinstance(ev, ActionDone):
            self.events.append(ev)

    def of(self, *kinds: ActionKind) -> list[str]:
        return [e.path for e in self.events if e.kind in kinds]

    def clear(self) -> None:
        self.events.clear()


def trash_files(home: Path) -> list[str]:
    found = []
    for _dirpath, _dirs, files in os.walk(home / ".local/share/Trash/files"):
        found.extend(files)
    return found


def test_folder_rename_is_one_server_move_and_one_local_rename(  # type: ignore[no-untyped-def]
    client, tmp_path: Path, tmp_home: Path
) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    for d in range(10):
        for f in range(100):
            write(a / f"proj/sub{d}/f{f:03d}.txt", f"{d}-{f}")
    ea = engine(client, a, tmp_path / "sa", transfers=16)
    eb = engine(client, b, tmp_path / "sb", host_name="ws2", transfers=16)
    try:
        assert ea.sync_once().uploaded == 1000
        assert eb.sync_once().downloaded == 1000
        acts_a, acts_b = Actions(ea), Actions(eb)
        os.rename(a / "proj", a / "renamed")
        t0 = time.monotonic()
        ra = ea.sync_once()
        rb = eb.sync_once()
        elapsed = time.monotonic() - t0
        assert ra.converged and rb.converged
        assert acts_a.of(ActionKind.MOVED_REMOTE) == ["renamed"], len(acts_a.of(ActionKind.MOVED_REMOTE))
        assert ra.uploaded == ra.deleted_remote == 0
        assert acts_b.of(ActionKind.MOVED_LOCAL) == ["renamed"], len(acts_b.of(ActionKind.MOVED_LOCAL))
        assert rb.downloaded == rb.deleted_local == 0 and rb.bytes_down == 0
        assert tree(a) == tree(b)
        assert not (b / "proj").exists() and len(list((b / "renamed").rglob("*.txt"))) == 1000
        assert not trash_files(tmp_home)
        print(f"\nfolder rename of 1,000 files converged on both sides in {elapsed:.2f} s")
        assert elapsed < 5.0
        # nothing left: each side plans nothing, and the server has exactly the renamed tree
        assert ea.sync_once().planned == 0 and eb.sync_once().planned == 0
        names = {m.path.rsplit("/", 1)[-1] for m in client.list_recursive(f"{client.home}/inst")}
        assert "proj" not in names and "renamed" in names
    finally:
        ea.close()
        eb.close()
