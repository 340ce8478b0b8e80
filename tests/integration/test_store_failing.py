"""Storage that fails every write (issue 20.7): a per-file time budget and an early stop for the run.

A fault proxy in front of SeaweedFS (the server signs URLs for it via ``--s3-public-endpoint``) answers
500 to every PUT, as a replicated SeaweedFS does with a volume server down. Before the fix `put -r` of
20 files retried every file ~7 times (minutes with a slow store) and a single file retried for ~17 s
regardless of any budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import ServerError
from gsdesktop.datamanager.transport import TransferConfig
from gsdesktop.server.seaweed import S3Config
from tests.support.cli import cli_env, run_cli
from tests.support.faultproxy import FaultProxy
from tests.support.servers import ServerProcess, add_user

STOPPED = "Storage fails every transfer (HTTP 500)"


@dataclass
class Stack:
    server: ServerProcess
    s3: FaultProxy
    cfg: S3Config


@pytest.fixture(scope="module")
def stack(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert seaweed.endpoint
    s3 = FaultProxy(seaweed.endpoint).start()
    server = ServerProcess(
        tmp_path_factory.mktemp("storefailing"), seaweed, extra_args=["--s3-public-endpoint", s3.url]
    ).start()
    yield Stack(server, s3, seaweed)
    server.stop()
    s3.stop()


@pytest.fixture
def user(stack: Stack) -> Iterator[tuple[str, str]]:
    name, password = add_user(stack.cfg, "sf")
    stack.s3.clear()
    yield name, password
    stack.s3.clear()


def _is_put(method: str, target: str) -> bool:
    return method == "PUT"


def _fail_every_put(stack: Stack) -> None:
    stack.s3.add(_is_put, "status", status=500, times=-1)


def _file(folder: Path, name: str, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(os.urandom(size))
    return p


def test_put_r_stops_early_with_one_message(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for i in range(20):
        _file(tree, f"f{i:02}.txt", 2000 + i)
    _fail_every_put(stack)
    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1], GSDESKTOP_TRANSFER_TIMEOUT="3")
    started = time.monotonic()
    res = run_cli(["put", "-r", "-j", "4", str(tree), f"/users/{user[0]}/tree"], env, timeout=150)
    took = time.monotonic() - started
    res.assert_clean_failure(code=1)
    assert took < 20, f"put -r took {took:.1f} s"
    assert res.err.count(STOPPED) == 1, res.err  # the early stop is said once, naming the answer
    assert "HTTP 500" in res.err.split(STOPPED)[1].splitlines()[0]
    assert "20 of 20 files failed" in res.err
    # only the files that were running when it tripped reached the store (4 workers, a few tries each)
    puts = stack.s3.count("PUT")
    assert puts <= 4 * 7, puts
    assert stack.s3.count("PUT", fault=None) == 0  # nothing reached SeaweedFS


def test_single_file_gives_up_after_its_budget(
    stack: Stack, user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GSDESKTOP_TRANSFER_TIMEOUT", "2")
    monkeypatch.setenv("GSDESKTOP_MULTIPART_THRESHOLD_MIB", "5")
    small = _file(tmp_path, "one.bin", 3_000_000)  # one PUT
    big = _file(tmp_path, "big.bin", 12 * 1024 * 1024)  # multipart (threshold 5 MiB)
    _fail_every_put(stack)
    with DataManagerClient(stack.server.url, *user, config=TransferConfig.from_env()) as c:
        for src in (small, big):
            started = time.monotonic()
            with pytest.raises(ServerError) as caught:
                c.upload(src, f"{c.home}/{src.name}")
            took = time.monotonic() - started
            assert took < 5, f"{src.name}: gave up after {took:.1f} s, budget 2 s"
            assert "HTTP 500" in caught.value.user_message
            assert "Gave up after 2 s (GSDESKTOP_TRANSFER_TIMEOUT)" in caught.value.user_message


def test_breaker_trips_after_three_files_and_resets_on_success(
    stack: Stack, user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GSDESKTOP_TRANSFER_TIMEOUT", "1")
    files = [_file(tmp_path, f"s{i}.txt", 100 + i) for i in range(6)]
    with DataManagerClient(stack.server.url, *user, config=TransferConfig.from_env()) as c:

        def fails(src: Path) -> str:
            with pytest.raises(ServerError) as caught:
                c.upload(src, f"{c.home}/{src.name}")
            return caught.value.user_message

        for _round in range(2):
            _fail_every_put(stack)
            assert STOPPED not in fails(files[0])
            assert STOPPED not in fails(files[1])
            stack.s3.clear()
            c.upload(files[2], f"{c.home}/{files[2].name}")  # a success: counting starts again
            _fail_every_put(stack)
            assert STOPPED not in fails(files[3])
            assert STOPPED not in fails(files[4])
            assert STOPPED not in fails(files[5])  # the third file in a row: it trips now
            before = stack.s3.count("PUT")
            started = time.monotonic()
            message = fails(files[0])
            assert STOPPED in message and "HTTP 500" in message and "3 files" in message
            assert time.monotonic() - started < 0.5  # at once ...
            assert stack.s3.count("PUT") == before  # ... without asking the store
            stack.s3.clear()
            with pytest.raises(ServerError, match="Storage fails every transfer"):
                c.upload(files[2], f"{c.home}/{files[2].name}")  # still open while cooling down
            c.store_breaker.cooldown = 0.0  # the cooldown ends: one transfer may try again ...
            c.upload(files[2], f"{c.home}/{files[2].name}")  # ... and its success closes it
            c.store_breaker.cooldown = 60.0


def test_sync_cycle_stops_early(
    stack: Stack, user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gsdesktop.sync import SyncConfig, SyncEngine

    monkeypatch.setenv("GSDESKTOP_TRANSFER_TIMEOUT", "2")
    local = tmp_path / "local"
    for i in range(20):
        _file(local, f"f{i:02}.txt", 3000 + i)
    with DataManagerClient(stack.server.url, *user, config=TransferConfig.from_env()) as c:
        c.mkdir(f"{c.home}/sync")
        config = SyncConfig(min_file_age=0.0, host_name="ws1", retry_base=0.5)
        engine = SyncEngine(c, local, f"{c.home}/sync", config, state_dir=tmp_path / "state")
        _fail_every_put(stack)
        started = time.monotonic()
        report = engine.sync_once()
        took = time.monotonic() - started
        assert took < 15, f"the cycle took {took:.1f} s"
        assert report.uploaded == 0 and not report.converged
        messages = [p.message for p in report.problems]
        assert any(STOPPED in m for m in messages), messages
        stack.s3.clear()
        c.store_breaker.cooldown = 0.0  # the store is back: the next cycle tries again and gets through
        assert engine.sync_once(force_retry=True).uploaded == 20
