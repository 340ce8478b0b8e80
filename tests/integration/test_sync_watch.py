"""Watch mode against the real server: latency, own writes, real save patterns, pause, offline."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.sync import ActionKind, ProblemKind, SyncConfig, SyncEngine, SyncState
from tests.integration.test_sync_engine import client_read, tree, write
from tests.support.servers import ServerProcess

WATCH = SyncConfig(min_file_age=0.1, quiet_period=0.2, poll_interval=0.5, host_name="ws1", retry_base=0.3)


@pytest.fixture
def watching(client: DataManagerClient, tmp_path: Path) -> Iterator[Callable[..., SyncEngine]]:
    engines: list[SyncEngine] = []

    def start(local: Path, remote: str = "w", **cfg: object) -> SyncEngine:
        config = SyncConfig(**{**WATCH.__dict__, **cfg})
        e = SyncEngine(
            client, local, f"{client.home}/{remote}", config, state_dir=tmp_path / f"s{len(engines)}"
        )
        engines.append(e)
        e.start()
        return e

    yield start
    for e in engines:
        e.close()


def wait_for(cond: Callable[[], bool], timeout: float = 20.0, step: float = 0.02) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def remote_names(client: DataManagerClient, root: str) -> set[str]:
    try:
        return {m.path[len(root) + 1 :] for m in client.list_recursive(root)}
    except NotFoundError:
        return set()


def uploads(engine: SyncEngine, path: str) -> int:
    return sum(1 for a in engine.recent_activity(1000) if a.kind is ActionKind.UPLOADED and a.path == path)


def test_save_to_server_latency_and_no_echo(client, watching, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    local = tmp_path / "L"
    local.mkdir()
    eng = watching(local)
    root = eng.remote_root
    wait_for(lambda: eng.state is SyncState.IDLE and client.exists(root))
    times = []
    for i in range(5):
        t0 = time.monotonic()
        write(local / f"note{i}.txt", os.urandom(1024))
        wait_for(partial(client.exists, f"{root}/note{i}.txt"), step=0.01)
        times.append(time.monotonic() - t0)
    assert statistics.median(times) < 2.0, times
    # a remote change comes down by polling, and the download is not echoed back up
    src = tmp_path / "src.txt"
    src.write_text("from the server")
    client.upload(src, f"{root}/server.txt")
    wait_for(lambda: (local / "server.txt").exists())
    time.sleep(1.5)
    assert uploads(eng, "server.txt") == 0
    assert all(uploads(eng, f"note{i}.txt") == 1 for i in range(5))


def test_real_save_patterns(client, watching, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    local = tmp_path / "L"
    write(local / "report.txt", "v1")
    eng = watching(local, remote="pat")
    root = eng.remote_root
    wait_for(lambda: "report.txt" in remote_names(client, root))
    seen: set[str] = set()
    stop = threading.Event()

    def spy() -> None:  # record every name the server ever shows
        while not stop.is_set():
            seen.update(remote_names(client, root))
            time.sleep(0.05)

    t = threading.Thread(target=spy)
    t.start()
    try:
        # 1. editor atomic save: write a temp file beside it, rename over the original
        tmp = local / ".goutputstream-X1Y2"
        tmp.write_text("v2 from the editor")
        os.replace(tmp, local / "report.txt")
        # 2. samtools-style: x.bam.tmp written in bursts, then renamed
        part = local / "x.bam.tmp"
        with open(part, "wb") as fh:
            for _ in range(4):
                fh.write(os.urandom(50_000))
                fh.flush()
                time.sleep(0.3)
        os.rename(part, local / "x.bam")
        # 3. Office lock files while a document is open
        write(local / "~$budget.docx", "lock")
        write(local / ".~lock.budget.odt#", "lock")
        write(local / "budget.docx", "doc")
        # 4. created and deleted within the quiet period: nothing at all
        write(local / "flash.txt", "gone")
        (local / "flash.txt").unlink()
        wait_for(lambda: {"x.bam", "budget.docx"} <= remote_names(client, root))
        wait_for(lambda: client_read(client, f"{root}/report.txt") == b"v2 from the editor")
        time.sleep(1.0)
    finally:
        stop.set()
        t.join()
    assert not {
        n for n in seen if n.endswith((".tmp", "#")) or n.startswith(("~$", ".goutputstream", "flash"))
    }
    assert client_read(client, f"{root}/x.bam") == (local / "x.bam").read_bytes()
    history = [(a.kind.value, a.path) for a in reversed(eng.recent_activity(1000))]
    assert uploads(eng, "x.bam") == 1, history
    assert uploads(eng, "report.txt") == 2, history  # v1, then the saved v2 exactly once


def test_file_appended_during_upload_is_never_left_half_written(  # type: ignore[no-untyped-def]
    client, tmp_path: Path, tmp_home: Path
) -> None:
    local = tmp_path / "L"
    big = local / "growing.log"
    write(big, os.urandom(4 << 20))
    cfg = SyncConfig(min_file_age=0.0, max_upload_bps=4 << 20, retry_base=0.2)
    eng = SyncEngine(client, local, f"{client.home}/grow", cfg, state_dir=tmp_path / "s")
    appender = threading.Timer(0.4, lambda: big.open("ab").write(b"appended line\n"))
    appender.start()
    t0 = time.monotonic()
    first = eng.sync_once()
    assert time.monotonic() - t0 >= 0.8  # 4 MiB at the 4 MiB/s limit
    appender.join()
    assert any(p.path == "growing.log" and p.kind is ProblemKind.CHANGING for p in first.problems), first
    second = eng.sync_once(force_retry=True)
    assert second.converged and second.uploaded == 1, second
    assert client_read(client, f"{client.home}/grow/growing.log") == big.read_bytes()
    eng.close()


def test_pause_resume_and_watcher_fallback(client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import watchdog.observers

    from gsdesktop.sync import watch

    class NoInotify:
        def __init__(self) -> None:
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watchdog.observers, "Observer", NoInotify)
    monkeypatch.setattr(watch, "FALLBACK_SCAN", 0.5)
    local = tmp_path / "L"
    local.mkdir()
    cfg = SyncConfig(**{**WATCH.__dict__, "poll_interval": 60.0})
    eng = SyncEngine(client, local, f"{client.home}/fb", cfg, state_dir=tmp_path / "s")
    eng.start()
    try:
        wait_for(lambda: any(p.kind is ProblemKind.WATCHER for p in eng.problems()))
        write(local / "a.txt", "a")
        wait_for(lambda: client.exists(f"{client.home}/fb/a.txt"))  # found by the periodic scan
        eng.pause()
        assert eng.state is SyncState.PAUSED
        write(local / "b.txt", "b")
        time.sleep(1.5)
        assert not client.exists(f"{client.home}/fb/b.txt")
        eng.resume()
        wait_for(lambda: client.exists(f"{client.home}/fb/b.txt"))
    finally:
        eng.close()


def test_server_loss_goes_offline_and_resumes(account, seaweed, tmp_path: Path, tmp_home: Path) -> None:  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path / "srv", seaweed).start()
    c = DataManagerClient(server.url, account.username, account.password, retries=0)
    local = tmp_path / "L"
    write(local / "first.txt", "1")
    cfg = SyncConfig(**{**WATCH.__dict__, "poll_interval": 0.5})
    eng = SyncEngine(c, local, f"{c.home}/off", cfg, state_dir=tmp_path / "s")
    states: list[SyncState] = []
    eng.subscribe(lambda ev: states.append(ev.state) if hasattr(ev, "state") else None)
    eng.start()
    try:
        wait_for(lambda: c.exists(f"{c.home}/off/first.txt"))
        server.kill()
        write(local / "second.txt", "2")
        wait_for(lambda: eng.state is SyncState.OFFLINE)
        server.start()
        wait_for(lambda: eng.state is SyncState.IDLE and c.exists(f"{c.home}/off/second.txt"), timeout=40)
        assert SyncState.OFFLINE in states
        assert tree(local)["second.txt"] == b"2"
    finally:
        eng.close()
        server.stop()
        c.close()
