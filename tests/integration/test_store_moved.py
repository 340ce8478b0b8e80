"""Issue 16 item 7: after a restart, uploads pick up at once.

- A signed URL whose store no longer answers (the store came back on another address) is replaced by
  a fresh one from the server at once, instead of being retried with backoff (which stalled every
  pending upload for minutes).
- The embedded store keeps its ports across restarts of the same data folder, so URLs signed before
  a restart stay valid.
- A cycle that cannot reach the server says so in `errors`, not only in the state.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.server.seaweed import EmbeddedSeaweed
from gsdesktop.sync import ProblemKind, SyncConfig, SyncEngine, SyncState
from tests.integration.test_sync_cli import gs
from tests.integration.test_sync_e2e import _env
from tests.support.faultproxy import FaultProxy
from tests.support.servers import ServerProcess


def test_prefetched_urls_of_a_moved_store_are_replaced_at_once(account, seaweed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = FaultProxy(seaweed.endpoint or "").start()
    server = ServerProcess(tmp_path / "srv", seaweed, extra_args=["--s3-public-endpoint", first.url]).start()
    second: FaultProxy | None = None
    c = DataManagerClient(server.url, account.username, account.password)
    try:
        c.login()
        files = []
        for i in range(3):
            p = tmp_path / f"f{i}.txt"
            p.write_bytes(os.urandom(1000 + i))
            files.append((p, f"{c.home}/moved/f{i}.txt", hashlib.md5(p.read_bytes()).hexdigest()))
        c.mkdir(f"{c.home}/moved")
        c.prefetch_upload_urls([(r, p.stat().st_size, m) for p, r, m in files])
        time.sleep(1.0)  # signed (through the first store address)
        first.stop()  # the store is gone from that address ...
        second = FaultProxy(seaweed.endpoint or "").start()  # ... and back on another one
        server.stop()
        server.extra_args = ["--s3-public-endpoint", second.url]
        server.start()
        for p, remote, md5 in files:
            started = time.monotonic()
            meta = c.upload(p, remote, server_metadata=False, md5=md5)
            took = time.monotonic() - started
            assert meta.md5 == md5
            assert took < 3.0, f"{remote}: {took:.1f} s on a dead signed URL"
        assert second.count("PUT") >= 1 and first.count("PUT") == 0
        assert [c.metadata(remote).md5 for _p, remote, _m in files] == [m for _p, _r, m in files]
    finally:
        c.close()
        server.stop()
        first.stop()
        if second is not None:
            second.stop()


def test_embedded_store_keeps_its_ports_across_restarts(tmp_path: Path) -> None:
    store = EmbeddedSeaweed(tmp_path / "dm")
    endpoint = store.start().endpoint
    store.stop()
    again = EmbeddedSeaweed(tmp_path / "dm")
    try:
        assert again.start().endpoint == endpoint
    finally:
        again.stop()
    # its S3 port taken by someone else meanwhile: it starts on another one, and works
    port = int((endpoint or "").rsplit(":", 1)[1])
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (connections in TIME_WAIT)
        blocker.bind(("127.0.0.1", port))
        blocker.listen(1)
        third = EmbeddedSeaweed(tmp_path / "dm")
        try:
            cfg = third.start()
            assert cfg.endpoint != endpoint
        finally:
            third.stop()


def test_unreachable_server_is_listed_in_errors(account, seaweed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    local = tmp_path / "L"
    local.mkdir()
    (local / "a.txt").write_text("a")
    server = ServerProcess(tmp_path / "srv", seaweed).start()
    c = DataManagerClient(server.url, account.username, account.password, retries=0)
    eng = SyncEngine(c, local, f"{c.home}/unreach", SyncConfig(min_file_age=0), state_dir=home / "state")
    try:
        assert eng.sync_once().converged
        server.kill()
        (local / "b.txt").write_text("b")
        r = eng.sync_once()
        assert r.blocked is not None and r.blocked.kind is ProblemKind.OFFLINE
        assert eng.state is SyncState.OFFLINE
        assert [(p.path, p.kind) for p in eng.problems()] == [("", ProblemKind.OFFLINE)]
        env = _env(home, account)
        errs = json.loads(gs(env, "errors", "--json", "--state-dir", str(home / "state")).stdout)
        assert [(e["path"], e["kind"]) for e in errs] == [("", "offline")]
        server.start()
        assert eng.sync_once().converged and eng.problems() == []
    finally:
        eng.close()
        c.close()
        server.stop()


def test_unreachable_store_ends_the_cycle_after_the_first_failures(account, seaweed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Storage stops answering in the middle of a cycle with many pending uploads: once the first
    transfers have failed (each after its own retries), the others are not tried one after another with
    the same retries, which stalled the cycle for minutes; the cycle ends offline and says so."""
    dead = FaultProxy(seaweed.endpoint or "").start()
    server = ServerProcess(tmp_path / "srv", seaweed, extra_args=["--s3-public-endpoint", dead.url]).start()
    dead.stop()  # every signed URL points at an address where nothing answers
    c = DataManagerClient(server.url, account.username, account.password, retries=2)
    local = tmp_path / "L"
    local.mkdir()
    for i in range(48):
        (local / f"f{i}.txt").write_text(f"file {i}")
    cfg = SyncConfig(min_file_age=0, transfers=4)
    eng = SyncEngine(c, local, f"{c.home}/stall", cfg, state_dir=tmp_path / "state")
    try:
        started = time.monotonic()
        r = eng.sync_once()
        took = time.monotonic() - started
        assert r.blocked is not None and r.blocked.kind is ProblemKind.OFFLINE, r
        assert eng.state is SyncState.OFFLINE and [p.kind for p in eng.problems()] == [ProblemKind.OFFLINE]
        assert took < 5.0, f"the cycle took {took:.1f} s against a store that does not answer"
    finally:
        eng.close()
        c.close()
        server.stop()
